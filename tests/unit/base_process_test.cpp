// base/process.h: exit status, captured output, stdin, env, cwd, extra fds, and that a
// child never outlives its Process (scope exit, timeout, cancel).
#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace {

using namespace kiln;
using Clock = std::chrono::steady_clock;

ProcessOptions sh(const std::string& script) {
    ProcessOptions o;
    o.argv = {"sh", "-c", script};
    o.out = Stdio::piped();
    o.err = Stdio::piped();
    return o;
}

// True while `pid` names a process (a zombie counts: it has not been reaped).
bool exists(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno != ESRCH;
}

// Reads the pid a script printed on its first line.
pid_t read_pid(Process& p) {
    std::string line;
    char c;
    while (::read(p.stdout_pipe().get(), &c, 1) == 1 && c != '\n')
        line += c;
    return static_cast<pid_t>(std::stol(line));
}

TEST(Process, ReportsTheExitStatusAndASignalAs128PlusN) {
    EXPECT_EQ(run_process(sh("exit 0")).exit_code, 0);
    EXPECT_EQ(run_process(sh("exit 3")).exit_code, 3);
    EXPECT_EQ(run_process(sh("kill -TERM $$")).exit_code, 128 + SIGTERM);
}

TEST(Process, CapturesStdoutAndStderrApart) {
    auto r = run_process(sh("echo out; echo err >&2; echo more"));
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "out\nmore\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_FALSE(r.timed_out);
}

TEST(Process, FeedsStdinBytesAndSurvivesAChildThatReadsNone) {
    ProcessOptions o = sh("tr a-z A-Z");
    o.in = Stdio::piped();
    RunOptions run;
    run.input = "hello\n";
    EXPECT_EQ(run_process(o, run).out, "HELLO\n");

    // A child that exits without reading: EPIPE, not a SIGPIPE that kills the test.
    ProcessOptions quits = sh("exit 0");
    quits.in = Stdio::piped();
    run.input = std::string(1 << 20, 'x');
    EXPECT_EQ(run_process(quits, run).exit_code, 0);
}

TEST(Process, LargeInputAndLargeOutputAtOnceDoNotDeadlock) {
    // cat echoes as it reads: with a pipe's worth of input unread on either side, a
    // writer that waits for all of its input to be taken would never read the output.
    ProcessOptions o = sh("cat");
    o.in = Stdio::piped();
    o.out = Stdio::piped();
    RunOptions run;
    run.input = std::string(4 << 20, 'k');
    run.max_captured = 8 << 20;
    run.timeout = std::chrono::seconds(60);
    auto r = run_process(o, run);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.out.size(), run.input.size());
}

TEST(Process, KeepsOnlyMaxCapturedOfAFlood) {
    RunOptions run;
    run.max_captured = 1000;
    auto r = run_process(sh("head -c 1000000 /dev/zero"), run);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_GE(r.out.size(), 1000u);
    EXPECT_LT(r.out.size(), 1000u + 4096u);
}

TEST(Process, UsesTheGivenEnvironmentAndDirectory) {
    ProcessOptions o = sh("echo \"$KILN_TEST_VAR:${HOME-unset}\"; pwd");
    o.env = std::vector<std::string>{"KILN_TEST_VAR=yes", "PATH=/usr/bin:/bin"};
    o.cwd = "/tmp";
    auto r = run_process(o);
    EXPECT_EQ(r.out, "yes:unset\n/tmp\n");
}

TEST(Process, PassesExtraFdsAs3And4) {
    int a[2], b[2];
    ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
    UniqueFd a_read(a[0]), a_write(a[1]), b_read(b[0]), b_write(b[1]);
    ProcessOptions o = sh("echo three >&3; echo four >&4");
    o.extra_fds = {a_write.get(), b_write.get()};
    EXPECT_EQ(run_process(o).exit_code, 0);
    a_write.reset();
    b_write.reset();
    char buf[64] = {};
    EXPECT_EQ(std::string(buf, static_cast<size_t>(::read(a_read.get(), buf, sizeof buf))),
              "three\n");
    EXPECT_EQ(std::string(buf, static_cast<size_t>(::read(b_read.get(), buf, sizeof buf))),
              "four\n");
}

// An extra fd may already sit in another one's slot: fd 3 given second must
// still arrive as fd 4, not be overwritten by the first one's move to fd 3.
TEST(Process, ExtraFdsAlreadyInTheSlotsArriveInOrder) {
    int a[2], b[2];
    ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
    UniqueFd a_read(a[0]), b_read(b[0]), b_write(b[1]);
    // a's write end moved to fd 3 (whatever held 3 is kept elsewhere meanwhile).
    UniqueFd saved(::fcntl(3, F_DUPFD_CLOEXEC, 10));
    ASSERT_EQ(::dup3(a[1], 3, O_CLOEXEC), 3);
    ::close(a[1]);
    UniqueFd a_write(3);
    ProcessOptions o = sh("echo first >&3; echo second >&4");
    o.extra_fds = {b_write.get(), a_write.get()};  // 3 goes to slot 4
    auto r = run_process(o);
    a_write.reset();
    b_write.reset();
    if (saved) {  // put back what held fd 3
        ASSERT_EQ(::dup3(saved.get(), 3, O_CLOEXEC), 3);
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    char buf[64] = {};
    EXPECT_EQ(std::string(buf, static_cast<size_t>(::read(b_read.get(), buf, sizeof buf))),
              "first\n");
    EXPECT_EQ(std::string(buf, static_cast<size_t>(::read(a_read.get(), buf, sizeof buf))),
              "second\n");
}

TEST(Process, DoesNotLeakOtherFds) {
    UniqueFd zero(::open("/dev/zero", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(zero);
    auto r = run_process(sh("ls -l /proc/$$/fd"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("/dev/null"), std::string::npos) << r.out;  // its stdin
    EXPECT_EQ(r.out.find("/dev/zero"), std::string::npos) << "a kiln fd leaked: " << r.out;
}

TEST(Process, AMissingProgramIsASpawnErrorNamingIt) {
    ProcessOptions o;
    o.argv = {"/nonexistent/kiln-no-such-program"};
    try {
        run_process(o);
        FAIL() << "expected SpawnError";
    } catch (const SpawnError& e) {
        EXPECT_EQ(e.error, ENOENT);
        EXPECT_EQ(std::string(e.what()),
                  "\"/nonexistent/kiln-no-such-program\" cannot be started: No such file or "
                  "directory (is it installed and in PATH?)");
    }
}

TEST(Process, ATimeoutKillsTheChild) {
    RunOptions run;
    run.timeout = std::chrono::milliseconds(200);
    const auto start = Clock::now();
    auto r = run_process(sh("echo started; exec sleep 30"), run);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_EQ(r.out, "started\n");
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(Process, ATimeoutAlsoKillsAChildThatClosedItsOutput) {
    RunOptions run;
    run.timeout = std::chrono::milliseconds(200);
    auto r = run_process(sh("exec >&- 2>&-; exec sleep 30"), run);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
}

TEST(Process, CancelKillsTheChildAndThrowsCancelled) {
    CancelFlag cancel{false};
    std::thread setter([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        cancel = true;
    });
    RunOptions run;
    run.cancel = &cancel;
    const auto start = Clock::now();
    EXPECT_THROW(run_process(sh("exec sleep 30"), run), Cancelled);
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
    setter.join();
}

TEST(Process, WaitOrKillKillsOnCancel) {
    Process p = Process::spawn(sh("echo $$; exec sleep 30"));
    const pid_t pid = read_pid(p);
    CancelFlag cancel{true};
    EXPECT_THROW(p.wait_or_kill(std::chrono::milliseconds(0), &cancel), Cancelled);
    EXPECT_FALSE(exists(pid));
}

TEST(Process, TheChildIsGoneAfterScopeExit) {
    pid_t pid = -1;
    {
        Process p = Process::spawn(sh("echo $$; exec sleep 30"));
        pid = read_pid(p);
        ASSERT_TRUE(exists(pid));
    }
    EXPECT_FALSE(exists(pid)) << "the child was neither killed nor reaped";
}

TEST(Process, AMovedFromProcessLeavesTheChildToItsNewOwner) {
    Process outer;
    pid_t pid = -1;
    {
        Process p = Process::spawn(sh("echo $$; exec sleep 30"));
        pid = read_pid(p);
        outer = std::move(p);
    }
    EXPECT_TRUE(exists(pid));
    outer.kill(SIGTERM);
    outer.wait();
    EXPECT_EQ(outer.exit_code(), 128 + SIGTERM);
    EXPECT_FALSE(exists(pid));
}

int exit_with_arg(void* arg) {
    return *static_cast<int*>(arg);
}

TEST(Process, RunInChildExitsWithWhatTheFunctionReturns) {
    int code = 7;
    Process p = Process::run_in_child(&exit_with_arg, &code);
    p.wait();
    EXPECT_EQ(p.exit_code(), 7);
}

}  // namespace
