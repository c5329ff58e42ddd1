// ADD's remote sources (solver/add_op.h) against real servers: an HTTP server
// (python3's http.server) the test starts on 127.0.0.1, and git repositories
// made by the test with Debian's git and fetched over file:// or a path.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "base/error.h"
#include "content/digest.h"
#include "solver/add_op.h"
#include "tests/integration/harness.h"

namespace kiln::solver {
namespace {

namespace fs = std::filesystem;
using test::HttpServer;
using test::run;
using test::Scratch;
using test::slurp;
using test::write;

class AddUrlIntegrationTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!test::have_tool("python3"))
            GTEST_SKIP() << "python3 not installed";
        fs::create_directories(scratch_ / "srv");
        fs::create_directories(scratch_ / "out");
        server_ = std::make_unique<HttpServer>(scratch_ / "srv", scratch_ / "port");
        ASSERT_NE(server_->port(), 0) << "the HTTP server did not start";
    }

    Scratch scratch_;
    std::unique_ptr<HttpServer> server_;
};

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST_F(AddUrlIntegrationTest, DownloadsWithMode0600AndReturnsDigest) {
    std::string body(300000, 'z');
    body += "end";
    write(scratch_ / "srv/file.bin", body, 0644);
    fs::path out = scratch_ / "out/file.bin";
    content::Digest d = fetch_url(server_->url("file.bin"), out, "");
    EXPECT_EQ(d, content::Digest::of(body));
    EXPECT_EQ(slurp(out), body);
    struct stat st {};
    ASSERT_EQ(::stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // The server's Last-Modified becomes the mtime, as BuildKit does.
    struct stat src {};
    ASSERT_EQ(::stat((scratch_ / "srv/file.bin").c_str(), &src), 0);
    EXPECT_EQ(st.st_mtime, src.st_mtime);
    // No temporary file left beside it.
    EXPECT_EQ(std::distance(fs::directory_iterator(scratch_ / "out"), fs::directory_iterator()), 1);
}

TEST_F(AddUrlIntegrationTest, ChecksumVerified) {
    write(scratch_ / "srv/a.txt", "payload\n");
    std::string good = content::Digest::of("payload\n").str();
    fs::path out = scratch_ / "out/a.txt";
    EXPECT_EQ(fetch_url(server_->url("a.txt"), out, good).str(), good);
    EXPECT_EQ(slurp(out), "payload\n");
}

TEST_F(AddUrlIntegrationTest, ChecksumMismatchIsAnErrorNamingTheUrl) {
    write(scratch_ / "srv/a.txt", "payload\n");
    std::string bad = content::Digest::of("other").str();
    std::string url = server_->url("a.txt");
    std::string msg = error_of([&] { fetch_url(url, scratch_ / "out/a.txt", bad); });
    EXPECT_NE(msg.find(url), std::string::npos) << msg;
    EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(scratch_ / "out/a.txt"));
    EXPECT_TRUE(fs::is_empty(scratch_ / "out"));
}

TEST_F(AddUrlIntegrationTest, MalformedChecksumIsAnError) {
    write(scratch_ / "srv/a.txt", "payload\n");
    std::string url = server_->url("a.txt");
    std::string msg = error_of([&] { fetch_url(url, scratch_ / "out/a.txt", "md5:abc"); });
    EXPECT_NE(msg.find(url), std::string::npos) << msg;
}

TEST_F(AddUrlIntegrationTest, NotFoundIsAnErrorNamingTheUrl) {
    std::string url = server_->url("missing.tar.gz");
    std::string msg = error_of([&] { fetch_url(url, scratch_ / "out/x", ""); });
    EXPECT_NE(msg.find(url), std::string::npos) << msg;
    EXPECT_NE(msg.find("404"), std::string::npos) << msg;
    EXPECT_TRUE(fs::is_empty(scratch_ / "out"));
}

TEST_F(AddUrlIntegrationTest, ConnectionRefusedIsAnErrorNamingTheUrl) {
    server_.reset();  // its port is now closed
    std::string url = "http://127.0.0.1:1/nothing";
    std::string msg = error_of([&] { fetch_url(url, scratch_ / "out/x", ""); });
    EXPECT_NE(msg.find(url), std::string::npos) << msg;
    EXPECT_TRUE(fs::is_empty(scratch_ / "out"));
}

TEST_F(AddUrlIntegrationTest, ReplacesAnExistingFile) {
    write(scratch_ / "srv/a.txt", "new");
    write(scratch_ / "out/a.txt", "old", 0644);
    fetch_url(server_->url("a.txt"), scratch_ / "out/a.txt", "");
    EXPECT_EQ(slurp(scratch_ / "out/a.txt"), "new");
}

// ---------------------------------------------------------------------------

class AddGitIntegrationTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!test::have_tool("git"))
            GTEST_SKIP() << "git not installed";
        bare_ = scratch_ / "repo.git";
        fs::path work = scratch_ / "work";
        git({"init", "-q", "--bare", bare_.string()});
        git({"init", "-q", "-b", "main", work.string()});
        write(work / "a.txt", "v1\n");
        write(work / "sub/b.txt", "bee\n");
        write(work / "run.sh", "#!/bin/sh\n", 0755);
        git({"-C", work.string(), "add", "-A"});
        git({"-C", work.string(), "commit", "-q", "-m", "one"});
        git({"-C", work.string(), "tag", "v1"});
        first_ = trim(git({"-C", work.string(), "rev-parse", "HEAD"}));
        write(work / "a.txt", "v2\n");
        git({"-C", work.string(), "commit", "-q", "-am", "two"});
        git({"-C", work.string(), "checkout", "-q", "-b", "feature"});
        write(work / "c.txt", "sea\n");
        git({"-C", work.string(), "add", "-A"});
        git({"-C", work.string(), "commit", "-q", "-m", "three"});
        git({"-C", work.string(), "push", "-q", bare_.string(), "main", "feature", "--tags"});
        // HEAD of the bare repo is main.
        git({"-C", bare_.string(), "symbolic-ref", "HEAD", "refs/heads/main"});
    }

    std::string git(std::vector<std::string> args) {
        std::vector<std::string> argv = {"git", "-c", "user.name=t", "-c", "user.email=t@e"};
        argv.insert(argv.end(), args.begin(), args.end());
        test::Result r = run(argv);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out;
    }
    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
            s.pop_back();
        return s;
    }
    std::string url() const { return "file://" + bare_.string(); }

    Scratch scratch_;
    fs::path bare_;
    std::string first_;
};

TEST_F(AddGitIntegrationTest, ClonesDefaultBranchWithoutGitDir) {
    fs::path out = scratch_ / "out";
    fetch_git(url(), out, false);
    EXPECT_EQ(slurp(out / "a.txt"), "v2\n");
    EXPECT_EQ(slurp(out / "sub/b.txt"), "bee\n");
    EXPECT_FALSE(fs::exists(out / "c.txt"));
    EXPECT_FALSE(fs::exists(out / ".git"));
    struct stat st {};
    ASSERT_EQ(::stat((out / "run.sh").c_str(), &st), 0);
    EXPECT_TRUE(st.st_mode & S_IXUSR);
    // Nothing left beside it.
    for (const auto& e : fs::directory_iterator(scratch_.path()))
        EXPECT_FALSE(e.path().filename().string().starts_with(".kiln-git")) << e.path();
}

TEST_F(AddGitIntegrationTest, KeepGitDir) {
    fs::path out = scratch_ / "out";
    fetch_git(url() + "#main", out, true);
    ASSERT_TRUE(fs::is_directory(out / ".git"));
    test::Result r = run({"git", "-C", out.string(), "rev-parse", "HEAD"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(trim(r.out), trim(git({"-C", bare_.string(), "rev-parse", "main"})));
}

TEST_F(AddGitIntegrationTest, RefsBranchTagAndCommit) {
    fetch_git(url() + "#feature", scratch_ / "branch", false);
    EXPECT_EQ(slurp(scratch_ / "branch/c.txt"), "sea\n");
    fetch_git(url() + "#v1", scratch_ / "tag", false);
    EXPECT_EQ(slurp(scratch_ / "tag/a.txt"), "v1\n");
    fetch_git(url() + "#" + first_, scratch_ / "commit", false);
    EXPECT_EQ(slurp(scratch_ / "commit/a.txt"), "v1\n");
}

TEST_F(AddGitIntegrationTest, RefWithSubdir) {
    fs::path out = scratch_ / "out";
    fetch_git(url() + "#v1:sub", out, true);
    EXPECT_EQ(slurp(out / "b.txt"), "bee\n");
    EXPECT_FALSE(fs::exists(out / "a.txt"));
    EXPECT_FALSE(fs::exists(out / ".git"));  // a subdir has no .git, as BuildKit
}

TEST_F(AddGitIntegrationTest, PlainPathIntoExistingEmptyDir) {
    fs::path out = scratch_ / "out";
    fs::create_directories(out);
    fetch_git(bare_.string() + "#feature", out, false);
    EXPECT_EQ(slurp(out / "c.txt"), "sea\n");
}

TEST_F(AddGitIntegrationTest, MissingRefIsAnErrorNamingTheUrl) {
    std::string u = url() + "#no-such-ref";
    std::string msg = error_of([&] { fetch_git(u, scratch_ / "out", false); });
    EXPECT_NE(msg.find(u), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(scratch_ / "out"));
}

TEST_F(AddGitIntegrationTest, MissingSubdirIsAnError) {
    std::string u = url() + "#main:nope";
    std::string msg = error_of([&] { fetch_git(u, scratch_ / "out", false); });
    EXPECT_NE(msg.find(u), std::string::npos) << msg;
    u = url() + "#main:../..";
    msg = error_of([&] { fetch_git(u, scratch_ / "out", false); });
    EXPECT_NE(msg.find(u), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(scratch_ / "out"));
}

TEST_F(AddGitIntegrationTest, MissingRepositoryIsAnErrorNamingTheUrl) {
    std::string u = "file://" + (scratch_ / "nope.git").string();
    std::string msg = error_of([&] { fetch_git(u, scratch_ / "out", false); });
    EXPECT_NE(msg.find(u), std::string::npos) << msg;
}

// --- ADD through kiln build, checked with umoci -----------------------------------------

class AddBuild : public AddUrlIntegrationTest {
  protected:
    test::Result build(const fs::path& ctx, const fs::path& out) {
        return test::run_kiln(
            scratch_ / "root",
            {"build", "-o", "type=oci,dest=" + out.string() + ",name=add:1", ctx.string()});
    }
    fs::path unpack(const fs::path& out) {
        auto bundle = out.string() + "-bundle";
        auto u = run({"umoci", "unpack", "--image", out.string() + ":1", bundle});
        EXPECT_EQ(u.exit_code, 0) << u.err;
        return fs::path(bundle) / "rootfs";
    }
};

TEST_F(AddBuild, LocalArchivesAreExtractedUnlessUnpackFalse) {
    auto ctx = scratch_ / "ctx";
    write(ctx / "src/d/f", "inside\n");
    write(ctx / "plain.txt", "plain\n");
    ASSERT_EQ(
        run({"tar", "-czf", (ctx / "a.tgz").string(), "-C", (ctx / "src").string(), "."}).exit_code,
        0);
    write(ctx / "Dockerfile",
          "FROM scratch\nADD a.tgz /x/\nADD plain.txt /y.txt\nADD --unpack=false a.tgz /raw/\n");
    auto r = build(ctx, scratch_ / "oci");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto root = unpack(scratch_ / "oci");
    EXPECT_EQ(slurp(root / "x/d/f"), "inside\n");
    EXPECT_EQ(slurp(root / "y.txt"), "plain\n");
    EXPECT_TRUE(fs::is_regular_file(root / "raw/a.tgz"));
}

TEST_F(AddBuild, UrlWithChecksumIsDownloadedAs0600AndAMismatchNamesTheUrl) {
    write(scratch_ / "srv/file.txt", "served\n");
    auto sum = content::Digest::of("served\n").str();
    auto ctx = scratch_ / "ctx";
    write(ctx / "Dockerfile",
          "FROM scratch\nADD --checksum=" + sum + " " + server_->url("file.txt") + " /dl/\n");
    auto r = build(ctx, scratch_ / "oci");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto root = unpack(scratch_ / "oci");
    EXPECT_EQ(slurp(root / "dl/file.txt"), "served\n");
    struct stat st;
    ASSERT_EQ(::stat((root / "dl/file.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);

    write(ctx / "Dockerfile", "FROM scratch\nADD --checksum=sha256:" + std::string(64, '0') + " " +
                                  server_->url("file.txt") + " /dl/\n");
    r = build(ctx, scratch_ / "oci2");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("Dockerfile:2"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(server_->url("file.txt")), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(scratch_ / "oci2"));
}

TEST_F(AddBuild, GitRepositoryOverHttpIsClonedWithoutItsGitDir) {
    // A bare repository served by the dumb HTTP protocol.
    auto work = scratch_ / "work";
    write(work / "README", "from git\n");
    auto git = [&](std::vector<std::string> args, const fs::path& dir) {
        args.insert(args.begin(),
                    {"git", "-C", dir.string(), "-c", "user.name=t", "-c", "user.email=t@t"});
        auto r = run(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
    };
    git({"init", "-q", "-b", "main"}, work);
    git({"add", "."}, work);
    git({"commit", "-q", "-m", "one"}, work);
    ASSERT_EQ(
        run({"git", "clone", "-q", "--bare", work.string(), (scratch_ / "srv/repo.git").string()})
            .exit_code,
        0);
    git({"update-server-info"}, scratch_ / "srv/repo.git");
    auto ctx = scratch_ / "ctx";
    write(ctx / "Dockerfile", "FROM scratch\nADD " + server_->url("repo.git") + "#main /src/\n");
    auto r = build(ctx, scratch_ / "oci");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto root = unpack(scratch_ / "oci");
    EXPECT_EQ(slurp(root / "src/README"), "from git\n");
    EXPECT_FALSE(fs::exists(root / "src/.git"));
}

}  // namespace
}  // namespace kiln::solver
