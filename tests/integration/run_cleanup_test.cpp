// What a build leaves behind: nothing. After a successful build, a failing one and one
// stopped with SIGINT (as Ctrl-C), no mount of kiln's is left in /proc/self/mountinfo, no
// process a RUN started is still running, the state root's tmp/ is empty, and the next
// build works. Needs root and runc (as in CI); skipped otherwise.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using namespace std::chrono_literals;

extern char** environ;

namespace {

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

// A number no other process on the machine has in its argv: `sleep <it>` is findable.
std::string unique_seconds() {
    std::random_device rd;
    return std::to_string(1000000000ull + (static_cast<unsigned long long>(rd()) % 899999999ull));
}

// Pids (other than ours) whose argv holds `marker`.
std::vector<pid_t> processes_with(const std::string& marker) {
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
            continue;
        pid_t pid = std::stoi(name);
        if (pid == ::getpid())
            continue;
        std::string cmdline = slurp(e.path() / "cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find(marker) != std::string::npos)
            out.push_back(pid);
    }
    return out;
}

// Lines of /proc/self/mountinfo that mention `path` (as mount point, root or options).
std::vector<std::string> mounts_mentioning(const fs::path& path) {
    std::vector<std::string> out;
    for (const auto& line : split_lines(slurp("/proc/self/mountinfo")))
        if (line.find(path.string()) != std::string::npos)
            out.push_back(line);
    return out;
}

// kiln started in the background, in its own process group, output to files.
class Spawned {
  public:
    Spawned(const fs::path& root, const std::vector<std::string>& args, const fs::path& out,
            const fs::path& err)
        : err_(err) {
        std::vector<std::string> argv = {KILN_BINARY, "--root", root.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        std::vector<char*> a;
        for (const auto& s : argv)
            a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        if (posix_spawn(&pid_, a[0], &fa, &attr, a.data(), environ) != 0)
            pid_ = -1;
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }
    ~Spawned() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    std::string err() const { return slurp(err_); }

    // Waits up to `limit` for the exit; the shell-like exit code, or -1 on timeout.
    int wait(std::chrono::seconds limit) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < until) {
            int status = 0;
            pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(50ms);
        }
        return -1;
    }

  private:
    pid_t pid_ = -1;
    bool exited_ = false;
    fs::path err_;
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (pred())
            return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

class RunCleanup : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        root = dir / "root";
        auto r = build_busybox_base(root, dir / "base");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        seconds = unique_seconds();
    }

    void TearDown() override {
        // Whatever a failed test left: kill it and unmount it before the scratch dir
        // is removed (never delete through a leftover mount).
        if (!seconds.empty())
            for (pid_t p : processes_with("sleep " + seconds))
                ::kill(p, SIGKILL);
        auto left = mounts_mentioning(dir.path());
        std::reverse(left.begin(), left.end());
        for (const auto& line : left) {
            std::istringstream in(line);
            std::string f;
            for (int i = 0; i < 5 && in >> f; ++i) {
            }
            ::umount2(f.c_str(), MNT_DETACH);
        }
    }

    fs::path context(const std::string& dockerfile) {
        write(dir / "ctx/Dockerfile", dockerfile);
        return dir / "ctx";
    }

    // Nothing of kiln's is left: no mount, no sleeping RUN process, no temp dir.
    void expect_nothing_left(const std::string& when) {
        bool gone = wait_for([&] { return processes_with("sleep " + seconds).empty(); }, 5s);
        EXPECT_TRUE(gone) << when << ": a RUN's process is still running";
        EXPECT_EQ(mounts_mentioning(root), std::vector<std::string>{}) << when;
        std::vector<std::string> tmp;
        if (fs::exists(root / "tmp"))
            for (const auto& e : fs::directory_iterator(root / "tmp"))
                tmp.push_back(e.path().filename().string());
        EXPECT_EQ(tmp, std::vector<std::string>{}) << when << ": temp dirs left in tmp/";
        for (const char* kept : {"snapshots/overlayfs/tmp", "snapshots/native/tmp", "locks/owners"})
            EXPECT_EQ(names_in(root / kept), std::vector<std::string>{})
                << when << ": left in " << kept;
    }

    static std::vector<std::string> names_in(const fs::path& d) {
        std::vector<std::string> out;
        if (fs::exists(d))
            for (const auto& e : fs::directory_iterator(d))
                out.push_back(e.path().filename().string());
        return out;
    }

    void expect_next_build_works() {
        auto ctx = context("FROM base:1\nRUN echo next-build && echo built > /next\n");
        auto r = run_kiln(root, {"build", "--progress", "plain", ctx.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find(" next-build\n"), std::string::npos) << r.err;
        expect_nothing_left("after the next build");
    }

    // Starts `RUN sh -c 'exec sleep <seconds>'` and waits until it runs.
    std::unique_ptr<Spawned> start_sleeping_build() {
        auto ctx = context("FROM base:1\nRUN echo before\nRUN sh -c 'exec sleep " + seconds +
                           "'\nRUN echo never\n");
        auto k = std::make_unique<Spawned>(
            root, std::vector<std::string>{"build", "--progress", "plain", ctx.string()},
            dir / "kiln.out", dir / "kiln.err");
        EXPECT_GT(k->pid(), 0);
        bool started = wait_for(
            [&] {
                return k->err().find("RUN sh -c 'exec sleep " + seconds) != std::string::npos &&
                       !processes_with("sleep " + seconds).empty();
            },
            60s);
        EXPECT_TRUE(started) << k->err();
        // Positive control: while it runs, its rootfs mount is visible here.
        EXPECT_NE(mounts_mentioning(root), std::vector<std::string>{})
            << "no mount of kiln's seen while a RUN runs";
        return k;
    }

    Scratch dir;
    fs::path root;
    std::string seconds;
};

}  // namespace

TEST_F(RunCleanup, AfterASuccessfulBuild) {
    // The RUN leaves a process in the background: it dies with the step.
    auto ctx = context("FROM base:1\nRUN sleep " + seconds + " & echo started-in-background\n");
    auto r = run_kiln(root, {"build", "--progress", "plain", ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find(" started-in-background\n"), std::string::npos) << r.err;
    expect_nothing_left("after a successful build");
    expect_next_build_works();
}

TEST_F(RunCleanup, AfterAFailingBuildTheOtherStagesAreStopped) {
    // One stage sleeps for ever, the other fails: the build stops, the sleeper dies.
    auto ctx = context("FROM base:1 AS slow\nRUN sh -c 'exec sleep " + seconds +
                       "'\n"
                       "FROM base:1 AS failing\nRUN sleep 1 && exit 3\n"
                       "FROM base:1\nCOPY --from=slow /bin/busybox /a\n"
                       "COPY --from=failing /bin/busybox /b\n");
    Spawned k(root, {"build", "--progress", "plain", "--jobs", "4", ctx.string()}, dir / "kiln.out",
              dir / "kiln.err");
    ASSERT_GT(k.pid(), 0);
    int code = k.wait(60s);
    ASSERT_NE(code, -1) << "kiln did not stop after a step failed:\n" << k.err();
    EXPECT_EQ(code, 1) << k.err();
    EXPECT_NE(k.err().find("exit code: 3"), std::string::npos) << k.err();
    expect_nothing_left("after a failing build");
    expect_next_build_works();
}

TEST_F(RunCleanup, AfterSigintToKiln) {
    auto k = start_sleeping_build();
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(::kill(k->pid(), SIGINT), 0);
    int code = k->wait(60s);
    ASSERT_NE(code, -1) << "kiln did not stop on SIGINT:\n" << k->err();
    EXPECT_NE(code, 0) << k->err();
    EXPECT_EQ(k->err().find(" never\n"), std::string::npos) << k->err();
    expect_nothing_left("after SIGINT");
    expect_next_build_works();
}

TEST_F(RunCleanup, AfterCtrlCToTheProcessGroup) {
    // A terminal's Ctrl-C: SIGINT to kiln and every process of its group (runc too).
    auto k = start_sleeping_build();
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(::kill(-k->pid(), SIGINT), 0);
    int code = k->wait(60s);
    ASSERT_NE(code, -1) << "kiln did not stop on Ctrl-C:\n" << k->err();
    EXPECT_NE(code, 0) << k->err();
    expect_nothing_left("after Ctrl-C");
    expect_next_build_works();
}

TEST_F(RunCleanup, AfterKill9TheNextCommandReclaimsEverything) {
    auto k = start_sleeping_build();
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(::kill(k->pid(), SIGKILL), 0);
    ASSERT_EQ(k->wait(30s), 128 + SIGKILL) << k->err();
    // What a kill leaves: the RUN still sleeps, its root is still mounted, the
    // dead build's directories are still there.
    EXPECT_FALSE(processes_with("sleep " + seconds).empty());
    EXPECT_NE(mounts_mentioning(root), std::vector<std::string>{});
    EXPECT_NE(names_in(root / "locks/owners"), std::vector<std::string>{});
    // Any command that writes reclaims it: the RUN's container is deleted,
    // the mounts detached, the directories removed.
    auto tag = run_kiln(root, {"tag", "base:1", "base:again"});
    EXPECT_EQ(tag.exit_code, 0) << tag.err;
    expect_nothing_left("after kiln tag, the command after the kill");
    expect_next_build_works();
}

// kill -9 at random instants of builds (a COPY of a 100 MB context, RUN steps,
// the export into the store): after every kill the next build reclaims what
// the killed one left; in the end the build succeeds, nothing is left, and
// every blob in the store hashes to its name.
TEST_F(RunCleanup, AHundredKillsAtRandomInstants) {
    std::mt19937 rng(std::random_device{}());
    write_random(dir / "ctx/big.bin", 100 << 20, 7);
    const std::string dockerfile =
        "FROM base:1\nCOPY . /ctx/\nRUN cat /ctx/n > /n && wc -c /ctx/big.bin > /size\n"
        "RUN echo second-step > /second\n";
    // Kills land anywhere in a build: the window is a little longer than a
    // build here (after the first, COPY is incremental).
    long window_ms = 0;
    for (const char* n : {"warm-1", "warm-2"}) {
        write(dir / "ctx/n", n);
        auto t0 = std::chrono::steady_clock::now();
        auto r = run_kiln(
            root, {"build", "--progress", "plain", "-t", "loop:1", context(dockerfile).string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        window_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count() *
                    6 / 5;
    }
    window_ms = std::max(window_ms, 300L);
    std::cout << "[ info ] kills within " << window_ms << " ms of a build's start\n";
    int finished = 0;
    for (int i = 0; i < 100; ++i) {
        write(dir / "ctx/n", std::to_string(i));  // every build has a new COPY to make
        auto ctx = context(dockerfile);
        Spawned k(root, {"build", "--progress", "plain", "-t", "loop:1", ctx.string()},
                  dir / "kiln.out", dir / "kiln.err");
        ASSERT_GT(k.pid(), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % window_ms));
        ::kill(k.pid(), SIGKILL);
        int code = k.wait(60s);
        ASSERT_TRUE(code == 128 + SIGKILL || code == 0) << "build " << i << ": " << k.err();
        finished += code == 0;
        if (i % 25 == 24) {
            // The next build succeeds and leaves nothing of the kills so far.
            auto r = run_kiln(root, {"build", "--progress", "plain", "-t", "loop:1", ctx.string()});
            ASSERT_EQ(r.exit_code, 0) << "after kill " << i << ": " << r.err;
            expect_nothing_left("after kill " + std::to_string(i) + " and one build");
        }
    }
    std::cout << "[ info ] " << finished << " of 100 builds ended before their kill\n";
    write(dir / "ctx/n", "final");
    auto ctx = context(dockerfile);
    auto r = run_kiln(root, {"build", "--progress", "plain", "-t", "loop:1", ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_nothing_left("after 100 kills and one more build");
    EXPECT_EQ(blobs_not_their_names(root), std::vector<std::string>{});
    auto inspect = run({"skopeo", "inspect", "oci:" + root.string() + ":loop:1"});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
}

// kill -9 at random instants of `kiln push` (compressing and uploading a 16 MB
// layer to the loopback registry) and of `kiln prune --all` (removing
// snapshots, records and blobs): the next command reclaims what each left,
// `kiln du` then counts no temporaries, every blob hashes to its name, and
// the image still reads whole from the store and, pushed once more, from the
// registry.
TEST_F(RunCleanup, KillsDuringPushAndPruneLeaveNothingTheNextCommandKeeps) {
    if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
        GTEST_SKIP() << *why;
    RegistryFixture reg(RegistryMode::plain);
    std::mt19937 rng(std::random_device{}());
    write_random(dir / "ctx/big.bin", 16 << 20, 11);
    const std::string dockerfile = "FROM base:1\nCOPY . /ctx/\nRUN cat /ctx/n > /n\n";
    int finished = 0;
    for (int i = 0; i < 40; ++i) {
        write(dir / "ctx/n", std::to_string(i));
        auto ctx = context(dockerfile);
        auto b = run_kiln(root, {"build", "--progress", "plain", "-t", "loop:1", ctx.string()});
        ASSERT_EQ(b.exit_code, 0) << "after kill " << i - 1 << ": " << b.err;
        if (i % 10 == 0) {
            auto du = run_kiln(root, {"du"});
            ASSERT_EQ(du.exit_code, 0) << du.err;
            EXPECT_NE(du.out.find("\ntemporary      -       0B "), std::string::npos)
                << "before kill " << i << ":\n"
                << du.out;
            expect_nothing_left("after the build after kill " + std::to_string(i - 1));
        }
        std::vector<std::string> args =
            i % 2 ? std::vector<std::string>{"prune", "--all", "-f"}
                  : std::vector<std::string>{"push", "loop:1",
                                             reg.host() + "/loop:" + std::to_string(i),
                                             "--insecure-registry", reg.host()};
        Spawned k(root, args, dir / "kiln.out", dir / "kiln.err");
        ASSERT_GT(k.pid(), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 500));
        ::kill(k.pid(), SIGKILL);
        int code = k.wait(60s);
        ASSERT_TRUE(code == 128 + SIGKILL || code == 0) << args[0] << " " << i << ": " << k.err();
        finished += code == 0;
    }
    std::cout << "[ info ] " << finished << " of 40 pushes and prunes ended before their kill\n";
    auto tag = run_kiln(root, {"tag", "loop:1", "loop:2"});
    ASSERT_EQ(tag.exit_code, 0) << tag.err;
    expect_nothing_left("after the kills and one kiln tag");
    EXPECT_EQ(blobs_not_their_names(root), std::vector<std::string>{});
    auto inspect = run({"skopeo", "inspect", "oci:" + root.string() + ":loop:1"});
    EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
    auto push = run_kiln(
        root, {"push", "loop:1", reg.host() + "/loop:final", "--insecure-registry", reg.host()});
    ASSERT_EQ(push.exit_code, 0) << push.err;
    std::vector<std::string> copy = {"skopeo", "copy"};
    for (const auto& a : reg.skopeo_args(SkopeoRole::source))
        copy.push_back(a);
    copy.push_back(reg.skopeo_ref("loop:final"));
    copy.push_back("oci:" + (dir / "pulled").string() + ":final");
    auto pulled = run(copy);
    EXPECT_EQ(pulled.exit_code, 0) << pulled.err;
}
