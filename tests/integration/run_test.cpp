// RUN as a user sees it: every form and mount type through the real kiln binary on
// runc and overlayfs, checked with independent tools (umoci unpack, skopeo inspect, tar,
// gzip/zstd, /proc). Each test builds a busybox base (Debian's busybox-static) into its
// own state root as base:1. Needs root and runc (as in CI); skipped otherwise.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

extern char** environ;

namespace {

std::string unique_token(const std::string& prefix) {
    std::random_device rd;
    std::ostringstream s;
    s << prefix << "-" << ::getpid() << "-" << std::hex << rd() << rd();
    return s.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t");
    auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The plain progress of one step: the number N of the first vertex whose header
// ("#N [stage i/n] INSTRUCTION") contains `header`, and the lines it printed ("#N line"),
// without its DONE / CACHED / ERROR lines. N is -1 when no such vertex is found.
struct StepLog {
    int id = -1;
    std::vector<std::string> lines;
    bool has(const std::string& line) const {
        return std::find(lines.begin(), lines.end(), line) != lines.end();
    }
    bool mentions(const std::string& text) const {
        for (const auto& l : lines)
            if (l.find(text) != std::string::npos)
                return true;
        return false;
    }
};

StepLog step_log(const std::string& err, const std::string& header) {
    StepLog log;
    std::string prefix;
    bool in_step = false;
    for (const auto& line : split_lines(err)) {
        if (log.id < 0) {
            if (line.size() < 2 || line[0] != '#')
                continue;
            auto sp = line.find(' ');
            if (sp == std::string::npos)
                continue;
            std::string rest = line.substr(sp + 1);
            if (rest.rfind("[", 0) == 0 && rest.find(header) != std::string::npos) {
                log.id = std::stoi(line.substr(1, sp - 1));
                prefix = "#" + std::to_string(log.id) + " ";
                in_step = true;
            }
            continue;
        }
        if (!in_step || line.rfind(prefix, 0) != 0)
            continue;
        std::string rest = line.substr(prefix.size());
        if (rest.rfind("DONE ", 0) == 0 || rest == "CACHED" || rest.rfind("ERROR:", 0) == 0)
            continue;
        log.lines.push_back(rest);
    }
    return log;
}

// The interface names in a /proc/net/dev listing.
std::set<std::string> interfaces(const std::vector<std::string>& lines) {
    std::set<std::string> out;
    for (const auto& l : lines) {
        auto colon = l.find(':');
        if (colon == std::string::npos || l.find('|') != std::string::npos)
            continue;
        out.insert(trim(l.substr(0, colon)));
    }
    return out;
}

// A process started in the background, killed and reaped at scope exit.
class Background {
  public:
    explicit Background(const std::vector<std::string>& argv) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char*> a;
        for (const auto& s : argv)
            a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        if (posix_spawnp(&pid_, a[0], &fa, nullptr, a.data(), environ) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    ~Background() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

class RunBase : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        root = dir / "root";
        auto r = build_busybox_base(
            root, dir / "base", "base:1", "COPY passwd group /etc/\n",
            {{"passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"},
             {"group", "root:x:0:\nalice:x:1000:\ndevs:x:2000:alice\n"}});
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    // A build context NAME holding the Dockerfile and the given files.
    fs::path context(const std::string& name, const std::string& dockerfile,
                     const std::map<std::string, std::string>& files = {}) {
        fs::path ctx = dir / name;
        write(ctx / "Dockerfile", dockerfile);
        for (const auto& [path, content] : files)
            write(ctx / path, content);
        return ctx;
    }

    // kiln build with plain progress and a metadata file; the result is kept in `last`.
    Result build(const fs::path& ctx, std::vector<std::string> extra = {},
                 const std::map<std::string, std::string>& env = {}) {
        fs::remove(meta_path());
        std::vector<std::string> args = {"build", "--progress", "plain", "--metadata-file",
                                         meta_path().string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(ctx.string());
        last = run_kiln(root, args, env);
        return last;
    }

    fs::path meta_path() const { return dir / "meta.json"; }
    json meta() const { return json::parse(slurp(meta_path())); }
    int steps_run() const { return meta().at("kiln.steps.run").get<int>(); }
    int steps_cached() const { return meta().at("kiln.steps.cached").get<int>(); }

    // Builds ctx into an OCI layout (ref "1") and unpacks it with umoci; returns the
    // unpacked rootfs, or an empty path (with a failure recorded).
    fs::path build_and_unpack(const fs::path& ctx, std::vector<std::string> extra = {},
                              const std::map<std::string, std::string>& env = {}) {
        ++exports;
        fs::path out = dir / ("oci-" + std::to_string(exports));
        fs::path bundle = dir / ("bundle-" + std::to_string(exports));
        extra.push_back("-o");
        extra.push_back("type=oci,dest=" + out.string() + ",name=app:1");
        auto r = build(ctx, extra, env);
        if (r.exit_code != 0) {
            ADD_FAILURE() << "build failed: " << r.err;
            return {};
        }
        auto u = run({"umoci", "unpack", "--image", out.string() + ":1", bundle.string()});
        if (u.exit_code != 0) {
            ADD_FAILURE() << "umoci unpack failed: " << u.err;
            return {};
        }
        last_oci = out;
        return bundle / "rootfs";
    }

    json image_config(const fs::path& oci) {
        return json_of(run({"skopeo", "inspect", "--config", "oci:" + oci.string() + ":1"}));
    }

    Scratch dir;
    fs::path root, last_oci;
    Result last;
    int exports = 0;
};

struct StatInfo {
    bool exists = false;
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0;
};

StatInfo stat_of(const fs::path& p) {
    struct stat st {};
    StatInfo s;
    if (::lstat(p.c_str(), &st) == 0) {
        s.exists = true;
        s.uid = st.st_uid;
        s.gid = st.st_gid;
        s.mode = st.st_mode;
    }
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RUN forms
// ---------------------------------------------------------------------------------------

class RunForms : public RunBase {};

TEST_F(RunForms, ShellFormUsesBinShWithPipesEnvAndBuildArgs) {
    auto ctx = context("app",
                       "FROM base:1\nENV GREETING=hello\nARG WHO\n"
                       "RUN echo \"$GREETING $WHO\" | tr a-z A-Z > /out.txt && cat /out.txt "
                       "&& echo \"shell=$0\"\n");
    auto rootfs = build_and_unpack(ctx, {"--build-arg", "WHO=world"});
    ASSERT_FALSE(rootfs.empty());
    auto log = step_log(last.err, "RUN echo");
    EXPECT_TRUE(log.has("HELLO WORLD")) << last.err;
    EXPECT_TRUE(log.has("shell=/bin/sh")) << last.err;
    EXPECT_EQ(slurp(rootfs / "out.txt"), "HELLO WORLD\n");
    // The build arg was in the RUN's environment but is not in the image's.
    auto cfg = image_config(last_oci);
    for (const auto& e : cfg.at("config").value("Env", json::array()))
        EXPECT_NE(e.get<std::string>().rfind("WHO=", 0), 0u) << cfg;
}

TEST_F(RunForms, ExecFormRunsWithoutAShell) {
    auto ctx = context("app",
                       "FROM base:1\nENV HOME=/root\n"
                       "RUN [\"/bin/echo\", \"$HOME is not expanded;\", \"no | pipe\"]\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    auto log = step_log(last.err, "RUN [");
    EXPECT_TRUE(log.has("$HOME is not expanded; no | pipe")) << last.err;
}

TEST_F(RunForms, ShellInstructionChangesTheShellForm) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN false; echo sh-c-goes-on\n"
                       "SHELL [\"/bin/sh\", \"-ec\"]\n"
                       "RUN false; echo not-reached\n");
    auto r = build(ctx);
    EXPECT_EQ(r.exit_code, 1) << "with -e the shell stops at `false`: " << r.err;
    EXPECT_TRUE(step_log(r.err, "RUN false; echo sh-c-goes-on").has("sh-c-goes-on")) << r.err;
    auto log = step_log(r.err, "RUN false; echo not-reached");
    ASSERT_GT(log.id, 0) << r.err;
    EXPECT_FALSE(log.has("not-reached")) << r.err;
    EXPECT_NE(r.err.find("/bin/sh -ec false; echo not-reached"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("exit code: 1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Dockerfile:4"), std::string::npos) << r.err;
}

TEST_F(RunForms, HeredocRunsAMultiLineScript) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN <<EOF\n"
                       "echo line one\n"
                       "X=two\n"
                       "echo \"line $X\" > /heredoc.txt\n"
                       "cat /heredoc.txt\n"
                       "EOF\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    auto log = step_log(last.err, "RUN <<EOF");
    EXPECT_TRUE(log.has("line one")) << last.err;
    EXPECT_TRUE(log.has("line two")) << last.err;
    EXPECT_EQ(slurp(rootfs / "heredoc.txt"), "line two\n");
}

TEST_F(RunForms, HeredocWithShebangRunsItsInterpreter) {
    // awk, not sh, must run this: sh would fail on it.
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN <<EOF\n"
                       "#!/bin/awk -f\n"
                       "BEGIN { print \"from awk \" 6*7 }\n"
                       "EOF\n"
                       "RUN <<EOF\n"
                       "#!/bin/sh\n"
                       "echo \"shebang sh $((40+2))\"\n"
                       "EOF\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_NE(last.err.find(" from awk 42\n"), std::string::npos) << last.err;
    EXPECT_NE(last.err.find(" shebang sh 42\n"), std::string::npos) << last.err;
}

TEST_F(RunForms, WorkdirIsCreatedWhenMissing) {
    auto ctx = context("app", "FROM base:1\nWORKDIR /a/b/c\nRUN pwd && touch here\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "RUN pwd").has("/a/b/c")) << last.err;
    EXPECT_TRUE(fs::is_regular_file(rootfs / "a/b/c/here"));
}

TEST_F(RunForms, UserByNameAndGroupFromTheImagesPasswdAndGroup) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN mkdir -p /home/alice && chown alice:alice /home/alice\n"
                       "USER alice\n"
                       "RUN id && touch /home/alice/by-alice\n"
                       "USER alice:devs\n"
                       "RUN id && touch /home/alice/by-devs\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    auto a = step_log(last.err, "RUN id && touch /home/alice/by-alice");
    ASSERT_EQ(a.lines.size(), 1u) << last.err;
    EXPECT_EQ(a.lines[0].rfind("uid=1000(alice) gid=1000(alice)", 0), 0u) << last.err;
    EXPECT_NE(a.lines[0].find("2000(devs)"), std::string::npos)
        << "supplementary groups from /etc/group: " << last.err;
    auto d = step_log(last.err, "RUN id && touch /home/alice/by-devs");
    ASSERT_EQ(d.lines.size(), 1u) << last.err;
    EXPECT_EQ(d.lines[0].rfind("uid=1000(alice) gid=2000(devs)", 0), 0u) << last.err;

    auto s = stat_of(rootfs / "home/alice/by-alice");
    ASSERT_TRUE(s.exists);
    EXPECT_EQ(s.uid, 1000u);
    EXPECT_EQ(s.gid, 1000u);
    s = stat_of(rootfs / "home/alice/by-devs");
    ASSERT_TRUE(s.exists);
    EXPECT_EQ(s.uid, 1000u);
    EXPECT_EQ(s.gid, 2000u);
}

TEST_F(RunForms, UnknownUserIsAClearError) {
    auto ctx = context("app", "FROM base:1\nUSER nobody-here\nRUN id\n");
    auto r = build(ctx);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("nobody-here"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Dockerfile:3"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------------------
// Output streaming
// ---------------------------------------------------------------------------------------

class RunOutput : public RunBase {};

TEST_F(RunOutput, StepOutputLinesArePrefixedWithTheStepNumber) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN for i in 1 2 3; do echo out-$i; echo err-$i >&2; done\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    auto log = step_log(last.err, "RUN for i in 1 2 3");
    ASSERT_GT(log.id, 0) << last.err;
    std::vector<std::string> out, err;
    for (const auto& l : log.lines)
        (l.rfind("out-", 0) == 0 ? out : err).push_back(l);
    EXPECT_EQ(out, (std::vector<std::string>{"out-1", "out-2", "out-3"})) << last.err;
    EXPECT_EQ(err, (std::vector<std::string>{"err-1", "err-2", "err-3"})) << last.err;
    // Header, then the lines, then DONE.
    std::string id = "#" + std::to_string(log.id) + " ";
    auto header = last.err.find(id + "[");
    auto first = last.err.find(id + "out-1");
    auto done = last.err.find(id + "DONE ");
    EXPECT_LT(header, first) << last.err;
    EXPECT_LT(first, done) << last.err;
    EXPECT_NE(done, std::string::npos) << last.err;
}

// ---------------------------------------------------------------------------------------
// Files a RUN makes or removes
// ---------------------------------------------------------------------------------------

class RunFiles : public RunBase {};

TEST_F(RunFiles, CreatedDeletedAndModesLandInTheImage) {
    auto ctx = context(
        "app",
        "FROM base:1\n"
        "RUN mkdir -p /data /olddir && echo keep > /data/keep && echo gone > /data/gone && "
        "echo x > /rm-me && echo o > /olddir/f\n"
        "RUN rm /data/gone /rm-me && rm -r /olddir && mkdir /olddir && echo g > /olddir/g && "
        "echo made > /data/new && chmod 0750 /data/new && mkdir -m 0701 /data/dir && "
        "ln -s keep /data/link && chmod 4755 /data/keep\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_EQ(slurp(rootfs / "data/keep"), "keep\n");
    EXPECT_FALSE(fs::exists(rootfs / "data/gone")) << "whiteout";
    EXPECT_FALSE(fs::exists(rootfs / "rm-me")) << "whiteout";
    EXPECT_FALSE(fs::exists(rootfs / "olddir/f")) << "replaced directory is opaque";
    EXPECT_EQ(slurp(rootfs / "olddir/g"), "g\n");
    EXPECT_EQ(slurp(rootfs / "data/new"), "made\n");
    EXPECT_EQ(stat_of(rootfs / "data/new").mode & 07777, 0750u);
    EXPECT_EQ(stat_of(rootfs / "data/keep").mode & 07777, 04755u);
    EXPECT_TRUE(S_ISDIR(stat_of(rootfs / "data/dir").mode));
    EXPECT_EQ(stat_of(rootfs / "data/dir").mode & 07777, 0701u);
    EXPECT_TRUE(fs::is_symlink(rootfs / "data/link"));
    EXPECT_EQ(fs::read_symlink(rootfs / "data/link"), "keep");

    // The last layer holds the whiteouts as tar entries (read by tar, not by kiln).
    auto index = json::parse(slurp(last_oci / "index.json"));
    auto mdesc = index.at("manifests")[0].at("digest").get<std::string>();
    auto manifest = json::parse(slurp(last_oci / "blobs/sha256" / mdesc.substr(7)));
    auto ldesc = manifest.at("layers").back().at("digest").get<std::string>();
    auto list = run({"tar", "-tf", (last_oci / "blobs/sha256" / ldesc.substr(7)).string()});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("data/.wh.gone"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(".wh.rm-me"), std::string::npos) << list.out;
}

TEST_F(RunFiles, RunsWithIdenticalDiffsStack) {
    // Two steps whose layers are byte for byte the same: the image has both layers, and
    // the step after them runs on top of both.
    auto ctx = context("app",
                       "FROM base:1\nRUN echo a > /a\nRUN echo a > /a\n"
                       "RUN cat /a && echo b > /b\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "RUN cat /a").has("a")) << last.err;
    EXPECT_EQ(slurp(rootfs / "a"), "a\n");
    EXPECT_EQ(slurp(rootfs / "b"), "b\n");
}

// ---------------------------------------------------------------------------------------
// A failing RUN
// ---------------------------------------------------------------------------------------

class RunFailure : public RunBase {};

TEST_F(RunFailure, ExitCodeAndLineAreReportedAndTheFixedBuildWorks) {
    auto ctx = context("app", "FROM base:1\nRUN echo before\nRUN exit 3\nRUN echo after\n");
    auto r = build(ctx);
    EXPECT_EQ(r.exit_code, 1);
    std::string error_line;
    for (const auto& l : split_lines(r.err))
        if (l.rfind("error:", 0) == 0)
            error_line = l;
    EXPECT_NE(error_line.find("Dockerfile:3"), std::string::npos) << r.err;
    EXPECT_NE(error_line.find("exit code: 3"), std::string::npos) << r.err;
    EXPECT_EQ(step_log(r.err, "RUN echo after").id, -1) << "nothing after the failure runs";
    EXPECT_EQ(r.out, "") << "no image digest on failure";

    write(ctx / "Dockerfile",
          "FROM base:1\nRUN echo before\nRUN echo fixed > /fixed\nRUN echo after\n");
    r = build(ctx);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(steps_cached(), 1) << "the step before the failure was kept";
    EXPECT_EQ(steps_run(), 2);
}

// ---------------------------------------------------------------------------------------
// RUN --mount
// ---------------------------------------------------------------------------------------

class RunMounts : public RunBase {};

TEST_F(RunMounts, BindFromContextIsReadOnly) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=bind,source=data,target=/mnt cat /mnt/in.txt && "
                       "if touch /mnt/x 2>/dev/null; then echo WRITABLE; exit 1; fi && "
                       "echo read-only-ok\n",
                       {{"data/in.txt", "in-data\n"}});
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    auto log = step_log(last.err, "RUN --mount=type=bind");
    EXPECT_TRUE(log.has("in-data")) << last.err;
    EXPECT_TRUE(log.has("read-only-ok")) << last.err;
    EXPECT_FALSE(fs::exists(rootfs / "mnt/in.txt")) << "the mount is not in the layer";
    EXPECT_FALSE(fs::exists(ctx / "data/x"));
}

// As in BuildKit, a bind of the context shows the context COPY sees: what
// .dockerignore leaves out (a secret, a log directory) is not there, "!" brings a
// file back, and a RUN cannot copy an ignored file into the image.
TEST_F(RunMounts, BindFromContextHidesWhatDockerignoreIgnores) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=bind,target=/mnt cp -r /mnt /whole && "
                       "echo \"listing: $(cd /mnt && find . -type f | sort | tr '\\n' ' ')\"\n"
                       "RUN --mount=type=bind,source=data,target=/d,rw cp -r /d /part && "
                       "echo x > /d/new\n",
                       {{"data/in.txt", "in-data\n"},
                        {"data/secret.env", "TOKEN=1\n"},
                        {"data/logs/a.log", "a\n"},
                        {"data/logs/keep.log", "keep\n"},
                        {".dockerignore", "**/*.env\ndata/logs\n!data/logs/keep.log\n"}});
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty()) << last.err;
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=bind,target=/mnt")
                    .has("listing: ./.dockerignore ./Dockerfile ./data/in.txt "
                         "./data/logs/keep.log "))
        << last.err;
    for (const char* top : {"whole", "part"}) {
        const fs::path d = rootfs / top;
        const std::string data = std::string(top) == "whole" ? "data/" : "";
        EXPECT_EQ(slurp(d / (data + "in.txt")), "in-data\n") << top;
        EXPECT_EQ(slurp(d / (data + "logs/keep.log")), "keep\n") << top;
        EXPECT_FALSE(fs::exists(d / (data + "secret.env"))) << top;
        EXPECT_FALSE(fs::exists(d / (data + "logs/a.log"))) << top;
    }
    EXPECT_FALSE(fs::exists(ctx / "data/new")) << "the context is never written";
    EXPECT_EQ(slurp(ctx / "data/secret.env"), "TOKEN=1\n");
}

TEST_F(RunMounts, ABindSourceMatchingNothingIsNotFound) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=bind,source=nomatch*,target=/mnt true\n");
    auto r = build(ctx);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: Dockerfile:2: RUN failed: \"/nomatch*\": not found in the "
                         "build context"),
              std::string::npos)
        << r.err;

    // An ignored source is as absent as in BuildKit: a bind cannot bring it back.
    write(ctx / ".dockerignore", ".git\n");
    write(ctx / ".git/HEAD", "ref: refs/heads/main\n");
    write(ctx / "Dockerfile", "FROM base:1\nRUN --mount=type=bind,source=.git,target=/g true\n");
    r = build(ctx);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: Dockerfile:2: RUN failed: \"/.git\": not found in the build "
                         "context"),
              std::string::npos)
        << r.err;
}

TEST_F(RunMounts, BindRwWritesAreDiscarded) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=bind,source=data,target=/mnt,rw "
                       "echo changed > /mnt/in.txt && echo new > /mnt/new.txt && cat /mnt/in.txt\n",
                       {{"data/in.txt", "in-data\n"}});
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=bind").has("changed")) << last.err;
    EXPECT_EQ(slurp(ctx / "data/in.txt"), "in-data\n") << "the context is never written";
    EXPECT_FALSE(fs::exists(ctx / "data/new.txt"));
    EXPECT_FALSE(fs::exists(rootfs / "mnt/new.txt"));
    EXPECT_FALSE(fs::exists(rootfs / "mnt/in.txt"));
}

TEST_F(RunMounts, BindFromAStage) {
    auto ctx = context("app",
                       "FROM base:1 AS builder\n"
                       "RUN mkdir /out && echo built > /out/artifact\n"
                       "FROM base:1\n"
                       "RUN --mount=type=bind,from=builder,source=/out,target=/art "
                       "cat /art/artifact && cp /art/artifact /copied\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=bind,from=builder").has("built")) << last.err;
    EXPECT_EQ(slurp(rootfs / "copied"), "built\n");
    EXPECT_FALSE(fs::exists(rootfs / "art/artifact"));
    EXPECT_FALSE(fs::exists(rootfs / "out")) << "the builder stage's files stay there";
}

TEST_F(RunMounts, CachePersistsAcrossBuildsById) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=cache,id=mycache,target=/cache,sharing=shared "
                       "echo run >> /cache/log && echo \"count=$(wc -l < /cache/log)\"\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=cache").has("count=1")) << last.err;

    // Same id at another target, locked: the first build's file is there.
    write(ctx / "Dockerfile",
          "FROM base:1\n"
          "RUN --mount=type=cache,id=mycache,target=/elsewhere,sharing=locked "
          "echo run >> /elsewhere/log && echo \"count=$(wc -l < /elsewhere/log)\"\n");
    auto rootfs = build_and_unpack(ctx, {"--no-cache"});
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=cache").has("count=2")) << last.err;
    EXPECT_FALSE(fs::exists(rootfs / "elsewhere/log")) << "cache contents are not in the image";
    EXPECT_FALSE(fs::exists(rootfs / "cache/log"));

    // Another id is another cache.
    write(ctx / "Dockerfile",
          "FROM base:1\n"
          "RUN --mount=type=cache,id=other,target=/cache,sharing=private "
          "echo run >> /cache/log && echo \"count=$(wc -l < /cache/log)\"\n");
    ASSERT_EQ(build(ctx, {"--no-cache"}).exit_code, 0) << last.err;
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=cache").has("count=1")) << last.err;
}

TEST_F(RunMounts, CacheModeAndOwner) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=cache,id=owned,target=/c,uid=1000,gid=2000,mode=0700 "
                       "stat -c 'cache %u %g %a' /c\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_TRUE(step_log(last.err, "RUN --mount=type=cache").has("cache 1000 2000 700"))
        << last.err;
}

TEST_F(RunMounts, TmpfsWritesVanish) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f && "
                       "cat /scratch/f && grep ' /scratch tmpfs ' /proc/mounts >/dev/null && "
                       "echo is-tmpfs\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    auto log = step_log(last.err, "RUN --mount=type=tmpfs");
    EXPECT_TRUE(log.has("x")) << last.err;
    EXPECT_TRUE(log.has("is-tmpfs")) << last.err;
    EXPECT_FALSE(fs::exists(rootfs / "scratch/f"));
}

class RunSecrets : public RunBase {
  protected:
    // Every regular file under `top` whose bytes, or whose gzip/zstd-decompressed bytes,
    // hold `needle`.
    std::vector<std::string> files_holding(const fs::path& top, const std::string& needle) {
        std::vector<std::string> hits;
        if (!fs::exists(top))
            return hits;
        for (const auto& e : fs::recursive_directory_iterator(top)) {
            if (!e.is_regular_file() || e.is_symlink())
                continue;
            ++files_searched;
            std::string bytes = slurp(e.path());
            if (bytes.find(needle) != std::string::npos) {
                hits.push_back(e.path().string());
                continue;
            }
            std::string decompressed;
            if (bytes.rfind("\x1f\x8b", 0) == 0) {
                decompressed = run({"gzip", "-dc", e.path().string()}).out;
            } else if (bytes.rfind("\x28\xb5\x2f\xfd", 0) == 0) {
                decompressed = run({"zstd", "-dc", e.path().string()}).out;
            } else {
                continue;
            }
            ++compressed_searched;
            if (decompressed.find(needle) != std::string::npos)
                hits.push_back(e.path().string() + " (decompressed)");
        }
        return hits;
    }
    int files_searched = 0, compressed_searched = 0;
};

TEST_F(RunSecrets, SecretIsReadableAndNeverStored) {
    const std::string secret = unique_token("s3cret-value");
    const std::string env_secret = unique_token("env-s3cret");
    write(dir / "secret.txt", secret);
    auto sha = [&](const std::string& s) {
        write(dir / "hash-me", s);
        auto r = run({"sha256sum", (dir / "hash-me").string()});
        fs::remove(dir / "hash-me");
        return r.out.substr(0, 64);
    };
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=secret,id=mysecret "
                       "sha256sum /run/secrets/mysecret && echo kept > /kept\n"
                       "RUN --mount=type=secret,id=mysecret,env=TOKEN "
                       "printf '%s' \"$TOKEN\" | sha256sum\n"
                       "RUN --mount=type=secret,id=fromenv,required=true "
                       "sha256sum /run/secrets/fromenv\n");
    auto rootfs = build_and_unpack(ctx,
                                   {"--secret", "id=mysecret,src=" + (dir / "secret.txt").string(),
                                    "--secret", "id=fromenv,env=KILN_IT_SECRET"},
                                   {{"KILN_IT_SECRET", env_secret}});
    ASSERT_FALSE(rootfs.empty());
    EXPECT_TRUE(step_log(last.err, "sha256sum /run/secrets/mysecret")
                    .mentions(sha(secret) + "  /run/secrets/mysecret"))
        << last.err;
    EXPECT_TRUE(step_log(last.err, "env=TOKEN").mentions(sha(secret))) << last.err;
    EXPECT_TRUE(step_log(last.err, "id=fromenv").mentions(sha(env_secret))) << last.err;
    EXPECT_FALSE(fs::exists(rootfs / "run/secrets/mysecret"));
    EXPECT_FALSE(fs::exists(rootfs / "run/secrets/fromenv"));

    // Not in any blob of the state root (layers, configs, manifests), nor in its cache,
    // snapshots or anything else kiln keeps; not in the exported layout either.
    for (const auto& where : {root, last_oci}) {
        EXPECT_EQ(files_holding(where, secret), std::vector<std::string>{}) << where;
        EXPECT_EQ(files_holding(where, env_secret), std::vector<std::string>{}) << where;
    }
    EXPECT_GT(files_searched, 10);
    EXPECT_GT(compressed_searched, 0) << "the exported layers are compressed and were read";
    // Positive control: the same search finds what is meant to be stored (the history).
    EXPECT_NE(files_holding(root / "blobs", "sha256sum /run/secrets/mysecret"),
              std::vector<std::string>{});
    // Not in the config nor its history, read by skopeo.
    auto cfg = run({"skopeo", "inspect", "--config", "oci:" + last_oci.string() + ":1"});
    ASSERT_EQ(cfg.exit_code, 0) << cfg.err;
    EXPECT_EQ(cfg.out.find(secret), std::string::npos) << cfg.out;
    EXPECT_EQ(cfg.out.find(env_secret), std::string::npos) << cfg.out;
    EXPECT_EQ(cfg.out.find("TOKEN="), std::string::npos) << "the secret env var is not kept";
    EXPECT_NE(cfg.out.find("sha256sum /run/secrets/mysecret"), std::string::npos)
        << "history names the RUN: " << cfg.out;
    // And the rebuild with another secret value is a cache hit: the value is no input.
    write(dir / "secret.txt", secret + "-changed");
    auto r = build(ctx,
                   {"--secret", "id=mysecret,src=" + (dir / "secret.txt").string(), "--secret",
                    "id=fromenv,env=KILN_IT_SECRET"},
                   {{"KILN_IT_SECRET", env_secret}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(steps_run(), 0);
}

TEST_F(RunSecrets, RequiredSecretMissingFailsAndOptionalOneIsAbsent) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --mount=type=secret,id=nope test ! -e /run/secrets/nope && "
                       "echo absent-ok\n"
                       "RUN --mount=type=secret,id=needed,required=true cat /run/secrets/needed\n");
    auto r = build(ctx);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(step_log(r.err, "id=nope").has("absent-ok")) << r.err;
    std::string error_line;
    for (const auto& l : split_lines(r.err))
        if (l.rfind("error:", 0) == 0)
            error_line = l;
    EXPECT_NE(error_line.find("needed"), std::string::npos) << r.err;
    EXPECT_NE(error_line.find("Dockerfile:3"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------

class RunNetwork : public RunBase {};

TEST_F(RunNetwork, NoneSeesOnlyLoopbackDefaultIsPrivateHostIsTheHosts) {
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN --network=none cat /proc/net/dev\n"
                       "RUN echo default && cat /proc/net/dev\n"
                       "RUN --network=host echo host && cat /proc/net/dev\n");
    ASSERT_EQ(build(ctx, {"--allow", "network.host"}).exit_code, 0) << last.err;
    auto none = interfaces(step_log(last.err, "RUN --network=none").lines);
    EXPECT_EQ(none, (std::set<std::string>{"lo"})) << last.err;
    // The default: a private namespace of its own (slirp4netns's tap0), not the host's.
    auto dflt = interfaces(step_log(last.err, "RUN echo default").lines);
    EXPECT_EQ(dflt, (std::set<std::string>{"lo", "tap0"})) << last.err;
    auto host = interfaces(split_lines(slurp("/proc/net/dev")));
    EXPECT_EQ(interfaces(step_log(last.err, "RUN --network=host").lines), host) << last.err;
}

// ---------------------------------------------------------------------------------------
// Escape
// ---------------------------------------------------------------------------------------

class RunEscape : public RunBase {};

TEST_F(RunEscape, HostFileOutsideRootfsCannotBeRead) {
    Scratch host;
    const std::string marker = unique_token("host-only-marker");
    const auto planted = host / "planted/secret.txt";
    write(planted, marker + "\n");
    const std::string p = planted.string();
    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN for f in " +
                           p + " /../../.." + p + " /proc/1/root" + p +
                           "; do cat \"$f\" 2>&1 || echo \"cannot read $f\"; done; "
                           "ln -s " +
                           p +
                           " /l && (cat /l 2>&1 || echo cannot via link); "
                           "ls -la " +
                           host.path().string() +
                           " 2>&1; "
                           "mkdir -p " +
                           (host / "planted").string() + " && echo pwned > " + p +
                           " && echo wrote-inside\n");
    auto r = build(ctx);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto log = step_log(r.err, "RUN for f in");
    EXPECT_TRUE(log.mentions("cannot read " + p)) << r.err;
    EXPECT_TRUE(log.has("wrote-inside")) << r.err;
    EXPECT_EQ(r.err.find(marker), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(marker), std::string::npos);
    EXPECT_EQ(slurp(planted), marker + "\n") << "the host file is untouched";
}

TEST_F(RunEscape, HostProcessesAreInvisible) {
    std::random_device rd;
    const std::string marker = std::to_string(300000000 + rd() % 99999999);
    Background sleeper({"sleep", marker});
    ASSERT_GT(sleeper.pid(), 0);
    // Positive control: the host sees it.
    std::string cmdline;
    for (int i = 0; i < 100 && cmdline.find(marker) == std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        cmdline = slurp("/proc/" + std::to_string(sleeper.pid()) + "/cmdline");
    }
    ASSERT_NE(cmdline.find(marker), std::string::npos);

    auto ctx = context("app",
                       "FROM base:1\n"
                       "RUN ps -o pid,args; for c in /proc/[0-9]*/cmdline; do "
                       "tr '\\0' ' ' < $c; echo; done; ls /proc\n");
    auto r = build(ctx);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto log = step_log(r.err, "RUN ps");
    EXPECT_TRUE(log.mentions("ps -o pid,args")) << "the RUN sees itself: " << r.err;
    EXPECT_EQ(r.err.find(marker), std::string::npos) << r.err;
    EXPECT_FALSE(log.mentions("kiln")) << "not even kiln itself: " << r.err;
}

// ---------------------------------------------------------------------------------------
// The cache with RUN
// ---------------------------------------------------------------------------------------

class RunCache : public RunBase {};

TEST_F(RunCache, UnchangedRebuildRunsNothing) {
    auto ctx = context("app", "FROM base:1\nRUN echo one > /one\nRUN echo two > /two\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 2);
    auto digest = last.out;
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 0);
    EXPECT_EQ(steps_cached(), 2);
    EXPECT_EQ(last.out, digest);
    EXPECT_NE(last.err.find("CACHED"), std::string::npos) << last.err;
}

TEST_F(RunCache, ChangingAnEnvUsedByTheRunRerunsIt) {
    auto ctx = context("app", "FROM base:1\nRUN echo first > /f\nENV V=1\nRUN echo $V > /v\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    write(ctx / "Dockerfile", "FROM base:1\nRUN echo first > /f\nENV V=2\nRUN echo $V > /v\n");
    auto rootfs = build_and_unpack(ctx);
    ASSERT_FALSE(rootfs.empty());
    EXPECT_EQ(steps_run(), 1);
    EXPECT_EQ(steps_cached(), 1);
    EXPECT_EQ(slurp(rootfs / "v"), "2\n");
}

TEST_F(RunCache, UnusedBuildArgChangesNothing) {
    auto ctx = context("app", "FROM base:1\nRUN echo one > /one\n");
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    auto digest = last.out;
    ASSERT_EQ(build(ctx, {"--build-arg", "NOT_DECLARED=1"}).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 0);
    EXPECT_EQ(last.out, digest);
    ASSERT_EQ(build(ctx, {"--build-arg", "NOT_DECLARED=2"}).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 0);
    EXPECT_EQ(last.out, digest);
}

TEST_F(RunCache, UsedArgChangeRerunsTheRun) {
    auto ctx = context("app", "FROM base:1\nARG VERSION=0\nRUN echo v$VERSION > /version\n");
    ASSERT_EQ(build(ctx, {"--build-arg", "VERSION=1"}).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 1);
    ASSERT_EQ(build(ctx, {"--build-arg", "VERSION=1"}).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 0);
    auto rootfs = build_and_unpack(ctx, {"--build-arg", "VERSION=2"});
    ASSERT_FALSE(rootfs.empty());
    EXPECT_EQ(steps_run(), 1);
    EXPECT_EQ(slurp(rootfs / "version"), "v2\n");
}

// ---------------------------------------------------------------------------------------
// Parallel stages
// ---------------------------------------------------------------------------------------

class RunParallel : public RunBase {};

TEST_F(RunParallel, IndependentStagesRunAtTheSameTime) {
    auto ctx = context("app",
                       "FROM base:1 AS a\nRUN sleep 2 && echo a > /a\n"
                       "FROM base:1 AS b\nRUN sleep 2 && echo b > /b\n"
                       "FROM base:1\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n");
    std::vector<std::string> extra;
    if (std::thread::hardware_concurrency() < 2)
        extra = {"--jobs", "2"};  // the default is the number of cores
    auto t0 = std::chrono::steady_clock::now();
    auto r = build(ctx, extra);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(steps_run(), 4);
    EXPECT_GE(secs, 2.0) << "the sleeps ran";
    EXPECT_LT(secs, 4.0) << "the two sleeps overlapped:\n" << r.err;
}

// ---------------------------------------------------------------------------------------
// Bad base layers
// ---------------------------------------------------------------------------------------

// Writes a docker-archive tar at argv[1] named argv[2]: layer 1 holds bin/busybox
// (argv[5]), layer 2 the hostile entries of kind argv[3] aimed at directory argv[4].
// Prints the hostile layer's digest (hex).
const char* kEvilArchive = R"PY(
import hashlib, io, json, platform, sys, tarfile
out, name, kind, target, busybox = sys.argv[1:6]
def layer(fill):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        fill(t)
    return buf.getvalue()
def entry(t, name, typ=tarfile.REGTYPE, data=b"", mode=0o644, link=""):
    i = tarfile.TarInfo(name)
    i.type, i.mode, i.mtime, i.linkname = typ, mode, 0, link
    i.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
def base(t):
    entry(t, "bin", tarfile.DIRTYPE, mode=0o755)
    entry(t, "bin/busybox", data=open(busybox, "rb").read(), mode=0o755)
def evil(t):
    up = "../" * 24
    if kind == "dotdot":
        entry(t, "../evil-dotdot-escaped", data=b"pwned\n")
        entry(t, up + target.lstrip("/") + "/escaped", data=b"pwned\n")
    elif kind == "symlink":
        entry(t, "link", tarfile.SYMTYPE, link=target, mode=0o777)
        entry(t, "link/file", data=b"pwned\n")
    elif kind == "hardlink":
        entry(t, "passwd", tarfile.LNKTYPE, link=up + "etc/passwd")
        entry(t, "passwd-abs", tarfile.LNKTYPE, link="/etc/passwd")
layers = [layer(base), layer(evil)]
digests = [hashlib.sha256(l).hexdigest() for l in layers]
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
config = json.dumps({"architecture": arch, "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d for d in digests]},
    "history": [{"created_by": "base"}, {"created_by": "evil"}]}).encode()
cdig = hashlib.sha256(config).hexdigest()
files = [(cdig + ".json", config)] + [(d + "/layer.tar", l) for d, l in zip(digests, layers)]
files.append(("manifest.json", json.dumps([{"Config": cdig + ".json", "RepoTags": [name],
    "Layers": [d + "/layer.tar" for d in digests]}]).encode()))
with tarfile.open(out, "w") as t:
    for n, data in files:
        entry(t, n, data=data)
print(digests[1])
)PY";

class RunBadLayers : public RunBase {
  protected:
    void SetUp() override {
        RunBase::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        target = outside.path() / "target";
        fs::create_directories(target);
        struct stat st {};
        ASSERT_EQ(::stat("/etc/passwd", &st), 0);
        passwd_links = st.st_nlink;
        passwd_content = slurp("/etc/passwd");
    }

    // Makes the archive, loads it and builds FROM it: the hostile layer must be refused
    // (by load or by the build) with an error naming its digest.
    void expect_refused(const std::string& kind) {
        const std::string name = "evil-" + kind + ":1";
        auto tar = dir / ("evil-" + kind + ".tar");
        auto mk = run({"/usr/bin/python3", "-c", kEvilArchive, tar.string(), name, kind,
                       target.string(), busybox_path().string()});
        ASSERT_EQ(mk.exit_code, 0) << mk.err;
        const std::string digest = trim(mk.out.substr(0, mk.out.find('\n')));
        ASSERT_EQ(digest.size(), 64u) << mk.out;

        auto load = run_kiln(root, {"load", "-i", tar.string()});
        if (load.exit_code != 0) {
            EXPECT_EQ(load.exit_code, 1);
            EXPECT_NE(load.err.find(digest), std::string::npos)
                << "the error names the layer: " << load.err;
        } else {
            auto ctx =
                context("app-" + kind, "FROM " + name + "\nRUN [\"/bin/busybox\", \"true\"]\n");
            auto r = build(ctx);
            EXPECT_EQ(r.exit_code, 1) << r.err;
            EXPECT_NE(r.err.find("error:"), std::string::npos) << r.err;
            EXPECT_NE(r.err.find(digest), std::string::npos)
                << "the error names the layer: " << r.err;
            // Asked again, still refused (nothing half-applied is taken for a snapshot).
            auto again = build(ctx);
            EXPECT_EQ(again.exit_code, 1) << again.err;
        }
        expect_nothing_outside();
    }

    void expect_nothing_outside() {
        EXPECT_TRUE(fs::is_empty(target)) << "written through to " << target;
        struct stat st {};
        ASSERT_EQ(::stat("/etc/passwd", &st), 0);
        EXPECT_EQ(st.st_nlink, passwd_links) << "a hard link to the host's /etc/passwd";
        EXPECT_EQ(slurp("/etc/passwd"), passwd_content);
        // Nothing named like an escapee anywhere outside the snapshots.
        for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
            if (e.path().string().rfind((root / "snapshots").string(), 0) == 0)
                continue;
            auto n = e.path().filename().string();
            EXPECT_TRUE(n != "evil-dotdot-escaped" && n != "escaped") << e.path();
        }
        EXPECT_FALSE(fs::exists(dir.path().parent_path() / "evil-dotdot-escaped"));
    }

    Scratch outside;
    fs::path target;
    nlink_t passwd_links = 0;
    std::string passwd_content;
};

TEST_F(RunBadLayers, DotDotEntryIsRefused) {
    expect_refused("dotdot");
}

TEST_F(RunBadLayers, WriteThroughAbsoluteSymlinkIsRefused) {
    expect_refused("symlink");
}

TEST_F(RunBadLayers, HardLinkOutsideTheRootfsIsRefused) {
    expect_refused("hardlink");
}

TEST(RunLayers, RunThatChangesNothingAddsNoLayer) {
    if (geteuid() != 0)
        GTEST_SKIP() << "needs root";
    Scratch dir;
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\nRUN "
          "[\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n"
          "RUN mkdir -p /etc && echo x > /etc/x\nRUN echo nothing\nRUN cat /etc/x\n");
    fs::copy_file("/bin/busybox", dir / "ctx/busybox");
    auto r = run_kiln(dir / "root", {"build", "-t", "e", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto cfg = json_of(
        run({"skopeo", "inspect", "--config", "oci:" + (dir / "root").string() + ":e:latest"}));
    // COPY, busybox --install, the RUN writing /etc/x; the last two RUNs only read
    // (the runtime's /etc mount stubs must not make a layer of them).
    EXPECT_EQ(cfg.at("rootfs").at("diff_ids").size(), 3u);
    EXPECT_TRUE(cfg.at("history")[3].value("empty_layer", false)) << cfg.at("history")[3];
}

class RunBuildFlags : public RunBase {};

TEST_F(RunBuildFlags, NetworkNoneAppliesToEveryRun) {
    auto ctx = context("net", "FROM base:1\nRUN cat /proc/net/dev | tail -n +3 | wc -l\n");
    auto r = build(ctx, {"--network", "none"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(" 1\n"), std::string::npos) << "only lo:\n" << r.err;
}

// buildx's --add-host, --shm-size and --ulimit reach every RUN, and are part of its
// key (as in BuildKit's exec op): the same RUN without them runs again.
TEST_F(RunBuildFlags, AddHostShmSizeAndUlimitReachEveryRun) {
    auto ctx = context("flags",
                       "FROM base:1\n"
                       "RUN cat /etc/hosts > /hosts; grep ' /dev/shm ' /proc/mounts > "
                       "/shm; ulimit -n > /nofile; ulimit -Hn > /nofile-hard\n");
    const std::vector<std::string> flags = {"--add-host",    "db.internal:10.1.2.3", "--add-host",
                                            "cache=fd00::9", "--shm-size",           "128m",
                                            "--ulimit",      "nofile=1000:2000"};
    auto with = flags;
    with.insert(with.end(), {"-o", "type=local,dest=" + (dir / "out").string()});
    auto r = build(ctx, with);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string hosts = slurp(dir / "out/hosts");
    EXPECT_NE(hosts.find("\n10.1.2.3\tdb.internal\n"), std::string::npos) << hosts;
    EXPECT_NE(hosts.find("\nfd00::9\tcache\n"), std::string::npos) << hosts;
    EXPECT_NE(slurp(dir / "out/shm").find("size=131072k"), std::string::npos)
        << slurp(dir / "out/shm");
    EXPECT_EQ(slurp(dir / "out/nofile"), "1000\n");
    EXPECT_EQ(slurp(dir / "out/nofile-hard"), "2000\n");

    ASSERT_EQ(build(ctx, flags).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 0) << "the same flags: the RUN is cached\n" << last.err;
    ASSERT_EQ(build(ctx).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 1) << "without them the RUN runs again\n" << last.err;
    ASSERT_EQ(build(ctx, {"--shm-size", "256m"}).exit_code, 0) << last.err;
    EXPECT_EQ(steps_run(), 1) << last.err;
}

TEST_F(RunBuildFlags, BadAddHostShmSizeOrUlimitIsAUsageErrorBeforeAnyStep) {
    auto ctx = context("bad", "FROM base:1\nRUN true\n");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--add-host", "nohost"}, "invalid --add-host \"nohost\" (want NAME:IP)"},
        {{"--add-host", "gw:host-gateway"}, "host-gateway is not supported"},
        {{"--add-host", "db:999.1.1.1"}, "invalid --add-host \"db:999.1.1.1\""},
        {{"--shm-size", "lots"}, "--shm-size: invalid size \"lots\""},
        {{"--ulimit", "nofiles=1"}, "unknown type \"nofiles\""},
        {{"--ulimit", "nofile=20:10"}, "the soft limit is above the hard one"},
    };
    for (const auto& [flags, message] : cases) {
        auto r = build(ctx, flags);
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("RUN true"), std::string::npos) << "a step ran:\n" << r.err;
    }
}

TEST_F(RunBuildFlags, QuietPrintsOnlyTheDigest) {
    auto ctx = context("quiet", "FROM base:1\nRUN echo loud\n");
    auto r = run_kiln(root, {"build", "-q", ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out.size(), 72u) << r.out;  // sha256:<64 hex>\n
    EXPECT_EQ(r.out.rfind("sha256:", 0), 0u) << r.out;
}

TEST_F(RunBuildFlags, SshMountForwardsTheAgentSocket) {
    // A listening unix socket stands in for ssh-agent.
    auto sock = dir / "agent.sock";
    Background agent(
        {"/usr/bin/python3", "-c",
         "import socket,time,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
         "s.listen(1); time.sleep(60)",
         sock.string()});
    for (int i = 0; i < 50 && !fs::exists(sock); ++i)
        usleep(100000);
    ASSERT_TRUE(fs::exists(sock));
    auto ctx = context(
        "ssh", "FROM base:1\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo agent-ok\n");
    auto r = build(ctx, {"--ssh", "default=" + sock.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("agent-ok"), std::string::npos) << r.err;
    auto required = context("ssh2", "FROM base:1\nRUN --mount=type=ssh,required=true true\n");
    r = build(required);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--ssh default"), std::string::npos) << r.err;
}

TEST_F(RunBuildFlags, MountFromAnImageInTheStore) {
    auto other =
        context("other", "FROM scratch\nCOPY data.txt /data.txt\n", {{"data.txt", "from image\n"}});
    ASSERT_EQ(run_kiln(root, {"build", "-t", "data:1", other.string()}).exit_code, 0);
    auto ctx = context("m", "FROM base:1\nRUN --mount=from=data:1,target=/mnt cat /mnt/data.txt\n");
    auto r = build(ctx);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("from image"), std::string::npos) << r.err;
}
