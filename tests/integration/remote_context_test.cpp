// Build contexts that are not a local directory, as buildx takes them: a tarball
// on stdin (`kiln build - < ctx.tar`), a Dockerfile on stdin (empty context), a
// tarball URL and a git repository served over HTTP on loopback (python3's
// http.server; git's dumb HTTP protocol), "#ref:subdir" picking the branch and
// the directory. Results are read from -o type=local directories.
#include <gtest/gtest.h>

#include "harness.h"

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
