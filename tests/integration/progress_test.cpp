// What a build shows while it runs. --progress rawjson is read as a tool reads it:
// BuildKit's SolveStatus stream (buildx's field names, base64 log data), one JSON
// object a line, the base64 decoded by coreutils, not by kiln. --progress tty is
// read as a person sees it: kiln runs in a real terminal (tmux) whose pane is
// captured while steps run and after they end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

class RawJson : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        fs::create_directories(dir / "ctx");
        fs::copy_file(busybox_path(), dir / "ctx/busybox");
        write(dir / "ctx/Dockerfile",
              "FROM scratch\nCOPY busybox /bin/busybox\n"
              "RUN [\"/bin/busybox\", \"echo\", \"hello from run\"]\n"
              "ARG unused\n");
    }
    Result build(const std::vector<std::string>& more = {}) {
        std::vector<std::string> argv = {"build", "--progress", "rawjson", "--build-arg",
                                         "NOT_USED=1"};
        argv.insert(argv.end(), more.begin(), more.end());
        argv.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", argv);
    }
    std::vector<json> statuses(const Result& r) {
        std::vector<json> out;
        std::istringstream in(r.err);
        std::string line;
        while (std::getline(in, line)) {
            EXPECT_NO_THROW(out.push_back(json::parse(line))) << "not JSON: " << line;
        }
        return out;
    }
    std::string decode(const std::string& b64) {
        write(dir / "b64", b64);
        return run({"base64", "-d", (dir / "b64").string()}).out;
    }
    Scratch dir;
};

}  // namespace

TEST_F(RawJson, EveryLineIsASolveStatusWithBuildKitsFieldNames) {
    auto r = build();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = statuses(r);
    ASSERT_FALSE(all.empty());
    const std::set<std::string> keys = {"vertexes", "statuses", "logs", "warnings"};
    std::map<std::string, std::string> names;  // digest → name
    std::set<std::string> started, completed;
    std::string run_digest, run_output, warnings;
    for (const auto& s : all) {
        for (const auto& [k, v] : s.items())
            EXPECT_TRUE(keys.count(k)) << "unknown key " << k << " in " << s.dump();
        for (const auto& v : s.value("vertexes", json::array())) {
            const std::string d = v.at("digest");
            EXPECT_EQ(d.rfind("sha256:", 0), 0u) << v.dump();
            names[d] = v.at("name");
            if (v.contains("started"))
                started.insert(d);
            if (v.contains("completed")) {
                completed.insert(d);
                EXPECT_TRUE(v.contains("started")) << v.dump();
            }
            if (names[d].find("RUN [\"/bin/busybox\"") != std::string::npos)
                run_digest = d;
        }
        for (const auto& l : s.value("logs", json::array())) {
            EXPECT_EQ(l.at("stream"), 1);
            EXPECT_TRUE(l.at("timestamp").get<std::string>().ends_with("Z")) << l.dump();
            if (l.at("vertex") == run_digest)
                run_output += decode(l.at("data"));
        }
        for (const auto& w : s.value("warnings", json::array()))
            warnings += decode(w.at("short")) + "\n";
    }
    ASSERT_FALSE(run_digest.empty()) << r.err;
    EXPECT_EQ(run_output, "hello from run\n");
    EXPECT_EQ(started, completed) << "a vertex never ended";
    EXPECT_NE(warnings.find("[NOT_USED] were not consumed"), std::string::npos) << warnings;
    // The digest alone is what stdout holds.
    EXPECT_EQ(r.out.rfind("sha256:", 0), 0u) << r.out;

    // Again: the RUN's vertex comes back cached.
    auto again = build();
    ASSERT_EQ(again.exit_code, 0) << again.err;
    bool cached = false;
    for (const auto& s : statuses(again))
        for (const auto& v : s.value("vertexes", json::array()))
            if (v.at("name").get<std::string>().find("RUN [\"/bin/busybox\"") !=
                    std::string::npos &&
                v.value("cached", false))
                cached = true;
    EXPECT_TRUE(cached) << again.err;
}

TEST_F(RawJson, AFailingStepCarriesItsErrorInItsVertex) {
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"false\"]\n");
    auto r = build();
    EXPECT_EQ(r.exit_code, 1);
    bool failed = false;
    std::istringstream in(r.err);
    std::string line, last;
    while (std::getline(in, line)) {
        last = line;
        if (line.starts_with("error: "))
            continue;  // the CLI's own one line, after the stream
        auto s = json::parse(line);
        for (const auto& v : s.value("vertexes", json::array()))
            if (v.contains("error") &&
                v.at("name").get<std::string>().find("false") != std::string::npos)
                failed = true;
    }
    EXPECT_TRUE(failed) << r.err;
    EXPECT_EQ(last.rfind("error: Dockerfile:3: ", 0), 0u) << r.err;
}

namespace {

// kiln build in a real terminal: a detached tmux session of 100x40 on a server of
// the test's own, whose pane is read as a person would see it.
class TtyDisplay : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        if (run({"sh", "-c", "command -v tmux"}).exit_code != 0)
            GTEST_SKIP() << "needs tmux (Debian's package; tools/bootstrap.sh installs it)";
        fs::create_directories(dir / "ctx");
        fs::copy_file(busybox_path(), dir / "ctx/busybox");
    }
    void TearDown() override {
        if (started_)
            run({"tmux", "-L", socket_, "kill-server"});
    }
    // Runs `kiln build --progress tty CTX` (after `env`) in the pane.
    void start(const std::string& env = "", const std::string& flags = "") {
        const std::string cmd = env + " " + std::string(KILN_BINARY) + " --root " +
                                (dir / "root").string() + " build --progress tty " + flags + " " +
                                (dir / "ctx").string() + "; echo EXIT=$?; sleep 600";
        auto r = run(
            {"tmux", "-L", socket_, "new-session", "-d", "-s", "t", "-x", "100", "-y", "40", cmd});
        ASSERT_EQ(r.exit_code, 0) << joined(r);
        started_ = true;
    }
    std::string pane(bool escapes = false) {
        std::vector<std::string> argv = {"tmux", "-L", socket_, "capture-pane", "-p", "-t", "t"};
        if (escapes)
            argv.push_back("-e");
        return run(argv).out;
    }
    // The pane once it shows `text` (or after `seconds`).
    std::string wait_for(const std::string& text, int seconds = 30) {
        std::string p;
        for (int i = 0; i < seconds * 10; ++i) {
            p = pane();
            if (p.find(text) != std::string::npos)
                break;
            ::usleep(100000);
        }
        return p;
    }
    Scratch dir;
    std::string socket_ = "kiln-test-" + std::to_string(::getpid());
    bool started_ = false;
};

}  // namespace

TEST_F(TtyDisplay, ARunningStepShowsItsTimerAndOutputThenCollapses) {
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\n"
          "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo step-started; /bin/busybox sleep 3; "
          "echo step-ending\"]\n");
    start();
    auto live = wait_for("=> => # step-started");
    EXPECT_NE(live.find("[+] Building "), std::string::npos) << live;
    EXPECT_NE(live.find(" => [1/2] COPY busybox /bin/busybox"), std::string::npos) << live;
    // The running step: its name, its timer at the right edge, its output beneath.
    const auto at = live.find(" => [2/2] RUN [\"/bin/busybox\"");
    ASSERT_NE(at, std::string::npos) << live;
    const std::string line = live.substr(at, live.find('\n', at) - at);
    EXPECT_EQ(line.size(), 99u) << line;
    EXPECT_EQ(line.back(), 's') << line;
    EXPECT_EQ(line.find("FINISHED"), std::string::npos);

    auto final = wait_for("EXIT=");
    EXPECT_NE(final.find("EXIT=0"), std::string::npos) << final;
    EXPECT_NE(final.find(" FINISHED"), std::string::npos) << final;
    EXPECT_NE(final.find(" => [2/2] RUN [\"/bin/busybox\""), std::string::npos) << final;
    // Collapsed: the step's output is no longer shown, the header is there once.
    EXPECT_EQ(final.find("=> => # step-"), std::string::npos) << final;
    EXPECT_EQ(final.find("[+] Building"), final.rfind("[+] Building")) << final;
    // The digest follows the summary.
    EXPECT_NE(final.find("\nsha256:"), std::string::npos) << final;
}

TEST_F(TtyDisplay, CachedStepsAreMarkedAndColourFollowsNoColor) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n");
    ASSERT_EQ(run_kiln(dir / "root", {"build", (dir / "ctx").string()}).exit_code, 0);
    start("NO_COLOR=1");
    auto final = wait_for("EXIT=");
    EXPECT_NE(final.find(" => CACHED [1/1] COPY busybox /bin/busybox"), std::string::npos) << final;
    EXPECT_EQ(pane(true).find("\x1b[34m"), std::string::npos) << "colour under NO_COLOR";
    run({"tmux", "-L", socket_, "kill-server"});
    socket_ += "-colour";  // a server of its own: the killed one may still be going
    start();
    wait_for("EXIT=");
    EXPECT_NE(pane(true).find("\x1b[34m"), std::string::npos) << pane(true);
}

TEST_F(TtyDisplay, AFailedStepIsExpandedWithItsLastOutput) {
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\n"
          "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo about to fail; exit 3\"]\n");
    start();
    auto final = wait_for("EXIT=");
    EXPECT_NE(final.find("EXIT=1"), std::string::npos) << final;
    EXPECT_NE(final.find(" => ERROR [2/2] RUN"), std::string::npos) << final;
    EXPECT_NE(final.find("------\n > [2/2] RUN"), std::string::npos) << final;
    EXPECT_NE(final.find("\n   about to fail\n------\n"), std::string::npos) << final;
    EXPECT_NE(final.find("\nerror: Dockerfile:3: RUN failed"), std::string::npos) << final;
}

TEST(ProgressAuto, PlainWhenStderrIsNotATerminal) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\n");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("#1 [internal] load build definition"), std::string::npos) << r.err;
    auto tty = run_kiln(dir / "root", {"build", "--progress", "tty", (dir / "ctx").string()});
    EXPECT_EQ(tty.exit_code, 2) << tty.err;
    EXPECT_EQ(tty.err, "error: --progress tty: stderr is not a terminal (use plain)\n");
}

// A build refused before its first step (here a bad -o) shows its one error line, no frame.
TEST_F(TtyDisplay, ARefusedBuildShowsOnlyItsError) {
    write(dir / "ctx/Dockerfile", "FROM scratch\n");
    start("", "-o type=oci");
    auto final = wait_for("EXIT=");
    EXPECT_NE(final.find("EXIT=2"), std::string::npos) << final;
    EXPECT_EQ(final.rfind("error: invalid --output \"type=oci\": dest= is required", 0), 0u)
        << final;
    EXPECT_EQ(final.find("[+] Building"), std::string::npos) << final;
}
