// Build contexts that are not a local directory, as buildx takes them: a tarball
// on stdin (`kiln build - < ctx.tar`), a Dockerfile on stdin (empty context), a
// tarball URL and a git repository served over HTTP on loopback (python3's
// http.server; git's dumb HTTP protocol), "#ref:subdir" picking the branch and
// the directory. Results are read from -o type=local directories.
#include <unistd.h>

#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class RemoteContext : public ::testing::Test {
  protected:
    // kiln build through a shell, so stdin can be a file.
    Result build_sh(const std::string& context, const std::string& stdin_file = "",
                    const std::string& more = "") {
        std::string cmd = std::string(KILN_BINARY) + " --root " + (dir / "root").string() +
                          " build --progress plain -o type=local,dest=" + (dir / "out").string() +
                          " " + more + " " + context;
        if (!stdin_file.empty())
            cmd += " < " + stdin_file;
        return run({"sh", "-c", cmd});
    }
    void make_context(const fs::path& ctx, const std::string& text) {
        write(ctx / "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
        write(ctx / "hello.txt", text);
    }
    Scratch dir;
};

}  // namespace

TEST_F(RemoteContext, ATarballOnStdinIsTheContext) {
    make_context(dir / "ctx", "from stdin\n");
    ASSERT_EQ(run({"tar", "-C", (dir / "ctx").string(), "-cf", (dir / "ctx.tar").string(), "."})
                  .exit_code,
              0);
    auto r = build_sh("-", (dir / "ctx.tar").string());
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "from stdin\n");
    EXPECT_NE(r.err.find("[internal] load build context from stdin"), std::string::npos) << r.err;
}

TEST_F(RemoteContext, ADockerfileOnStdinBuildsWithAnEmptyContext) {
    write(dir / "Dockerfile", "FROM scratch\nCOPY hello.txt /\n");
    auto r = build_sh("-", (dir / "Dockerfile").string());
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("hello.txt"), std::string::npos) << r.err;  // nothing to copy
    write(dir / "Dockerfile", "FROM scratch\nWORKDIR /made\n");
    r = build_sh("-", (dir / "Dockerfile").string());
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_TRUE(fs::is_directory(dir / "out/made"));
}

TEST_F(RemoteContext, AnArchiveThatClimbsOutIsRefusedAndWritesNothingOutside) {
    // "../escape" beside the extraction directory, written by Python's tarfile.
    auto made =
        run({"python3", "-c",
             "import io, sys, tarfile\n"
             "t = tarfile.open(sys.argv[1], 'w')\n"
             "for name, data in (('Dockerfile', b'FROM scratch\\n'), ('../escape', b'x')):\n"
             "    i = tarfile.TarInfo(name); i.size = len(data)\n"
             "    t.addfile(i, io.BytesIO(data))\n"
             "t.close()\n",
             (dir / "evil.tar").string()});
    ASSERT_EQ(made.exit_code, 0) << joined(made);
    auto r = build_sh("-", (dir / "evil.tar").string());
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("../escape"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "escape"));
    EXPECT_FALSE(fs::exists(dir / "root/tmp/escape"));
    EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(RemoteContext, StdinCannotBeBothContextAndDockerfile) {
    auto r = run_kiln(dir / "root", {"build", "-f", "-", "-"});
    EXPECT_EQ(r.exit_code, 2) << joined(r);
    EXPECT_NE(r.err.find("cannot both come from stdin"), std::string::npos) << r.err;
}

TEST_F(RemoteContext, ATarballUrlIsTheContext) {
    make_context(dir / "ctx", "from a url\n");
    fs::create_directories(dir / "www");
    ASSERT_EQ(
        run({"tar", "-C", (dir / "ctx").string(), "-czf", (dir / "www/ctx.tar.gz").string(), "."})
            .exit_code,
        0);
    HttpServer server(dir / "www", dir / "port");
    ASSERT_NE(server.port(), 0);
    auto r = build_sh(server.url("ctx.tar.gz"));
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "from a url\n");
    auto missing = build_sh(server.url("nothing.tar.gz"));
    EXPECT_EQ(missing.exit_code, 1) << joined(missing);
    EXPECT_NE(missing.err.find("nothing.tar.gz"), std::string::npos) << missing.err;
}

TEST_F(RemoteContext, AGitUrlIsClonedAtItsRefAndSubdirectory) {
    if (!have_tool("git"))
        GTEST_SKIP() << "git not installed";
    auto git = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = {"git", "-c", "user.name=t", "-c", "user.email=t@e"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = run(argv);
        EXPECT_EQ(r.exit_code, 0) << joined(r);
    };
    const fs::path work = dir / "work", bare = dir / "www/repo.git";
    git({"init", "-q", "-b", "main", work.string()});
    make_context(work / "app", "on main\n");
    write(work / "README", "not in app\n");
    git({"-C", work.string(), "add", "-A"});
    git({"-C", work.string(), "commit", "-q", "-m", "one"});
    git({"-C", work.string(), "checkout", "-q", "-b", "feature"});
    write(work / "app/hello.txt", "on feature\n");
    git({"-C", work.string(), "commit", "-q", "-am", "two"});
    git({"clone", "-q", "--bare", work.string(), bare.string()});
    git({"-C", bare.string(), "update-server-info"});  // git's dumb HTTP protocol
    HttpServer server(dir / "www", dir / "port");
    ASSERT_NE(server.port(), 0);

    auto r = build_sh(server.url("repo.git") + "#main:app");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "on main\n");
    EXPECT_FALSE(fs::exists(dir / "out/ctx/README"));
    EXPECT_FALSE(fs::exists(dir / "out/ctx/.git"));

    fs::remove_all(dir / "out");
    r = build_sh(server.url("repo.git") + "#feature", "", "-f app/Dockerfile");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/app/hello.txt"), "on feature\n");
    EXPECT_EQ(slurp(dir / "out/ctx/README"), "not in app\n");
}

// A directory whose name reads as scp-like git ("team:app") is built as the directory.
TEST_F(RemoteContext, ADirectoryNamedLikeAGitRemoteIsADirectory) {
    make_context(dir / "team:app", "a directory\n");
    auto r = run({"sh", "-c",
                  "cd " + dir.path().string() + " && " + KILN_BINARY + " --root " +
                      (dir / "root").string() + " build -o type=local,dest=out team:app"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "a directory\n");
}

// A git context is keyed by the commit its ref names: unchanged, it is not fetched again
// (the checkout kept under the store is used); a new commit on the branch is fetched.
TEST_F(RemoteContext, AGitContextIsFetchedOncePerCommit) {
    if (!have_tool("git"))
        GTEST_SKIP() << "git not installed";
    const std::string work = (dir / "work").string(), bare = (dir / "www/repo.git").string();
    make_context(dir / "work", "first\n");
    auto g = make_git_repo(work, bare);
    ASSERT_EQ(g.exit_code, 0) << joined(g);
    HttpServer server(dir / "www", dir / "port");
    ASSERT_NE(server.port(), 0);
    const std::string url = server.url("repo.git") + "#main";

    auto r = build_sh(url);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find(": fetched"), std::string::npos) << r.err;
    r = build_sh(url);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find(": checked out before"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("CACHED"), std::string::npos) << r.err;  // same files, same stat cache
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "first\n");

    write(dir / "work/hello.txt", "second\n");
    g = run({"sh", "-c",
             "set -e; git -C " + work +
                 " -c user.name=t -c user.email=t@e commit -q -am two; git -C " + work +
                 " push -q " + bare + " main; git -C " + bare + " update-server-info"});
    ASSERT_EQ(g.exit_code, 0) << joined(g);
    r = build_sh(url);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find(": fetched"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "second\n");
    // The checkouts are build cache: kiln du counts them, kiln prune removes them.
    auto du = run_kiln(dir / "root", {"du"});
    EXPECT_NE(du.out.find("git checkouts"), std::string::npos) << joined(du);
    auto prune = run_kiln(dir / "root", {"prune", "-f"});
    ASSERT_EQ(prune.exit_code, 0) << joined(prune);
    EXPECT_TRUE(fs::is_empty(dir / "root/cache/git"));
    r = build_sh(url);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find(": fetched"), std::string::npos) << r.err;
    // A ref the remote does not have fails naming it; nothing is kept for it.
    auto missing = build_sh(server.url("repo.git") + "#nosuchbranch");
    EXPECT_EQ(missing.exit_code, 1) << joined(missing);
    EXPECT_NE(missing.err.find("nosuchbranch"), std::string::npos) << missing.err;
}

// git's own protocol: a git:// URL served by `git daemon` on loopback, as a context and as a
// named context, keyed by its commit (ls-remote over the smart protocol).
TEST_F(RemoteContext, AGitDaemonServesGitUrls) {
    if (!have_tool("git") || !fs::exists("/usr/lib/git-core/git-daemon"))
        GTEST_SKIP() << "git daemon not installed";
    const std::string work = (dir / "work").string(), bare = (dir / "served/repo.git").string();
    make_context(dir / "work/app", "over git://\n");
    auto g = make_git_repo(work, bare);
    ASSERT_EQ(g.exit_code, 0) << joined(g);
    const int port = free_loopback_port();
    ChildProcess daemon({"git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                         "--port=" + std::to_string(port),
                         "--base-path=" + (dir / "served").string(), (dir / "served").string()},
                        dir / "daemon.log");
    const std::string url = "git://127.0.0.1:" + std::to_string(port) + "/repo.git";
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        up = run({"git", "ls-remote", url}).exit_code == 0;
        if (!up)
            ::usleep(50 * 1000);
    }
    ASSERT_TRUE(up) << slurp(dir / "daemon.log");

    auto r = build_sh(url + "#main:app");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "over git://\n");
    EXPECT_NE(r.err.find(": fetched"), std::string::npos) << r.err;

    write(dir / "local/Dockerfile", "FROM scratch\nCOPY --from=src hello.txt /from-daemon\n");
    r = build_sh((dir / "local").string(), "", "--build-context src=" + url + "#main:app");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/from-daemon"), "over git://\n");
    EXPECT_NE(r.err.find(": checked out before"), std::string::npos) << r.err;
}

// Credentials in a context URL never reach the progress or the error lines.
TEST_F(RemoteContext, CredentialsInAContextUrlAreNotPrinted) {
    if (!have_tool("git"))
        GTEST_SKIP() << "git not installed";
    make_context(dir / "work", "with credentials\n");
    auto g = make_git_repo(dir / "work", dir / "www/repo.git");
    ASSERT_EQ(g.exit_code, 0) << joined(g);
    HttpServer server(dir / "www", dir / "port");
    ASSERT_NE(server.port(), 0);
    const std::string url = server.url("repo.git");
    const std::string with_secret = "http://user:s3cr3t@" + url.substr(7);
    auto r = build_sh(with_secret + "#main");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/ctx/hello.txt"), "with credentials\n");
    EXPECT_EQ(r.err.find("s3cr3t"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("http://***@"), std::string::npos) << r.err;
    auto missing =
        build_sh("http://user:s3cr3t@" + server.url("nothing.tar.gz").substr(7), "",
                 "--build-context x=http://user:s3cr3t@" + server.url("nothing.tar.gz").substr(7));
    EXPECT_EQ(missing.exit_code, 1) << joined(missing);
    EXPECT_EQ(missing.err.find("s3cr3t"), std::string::npos) << missing.err;
}
