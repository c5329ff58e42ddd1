// Child processes: the one place kiln starts one (programs, or a function in a copy of
// kiln).
//
// Contract:
//  - A Process is always reaped: destroying one that has not been waited for
//    kills it (SIGKILL) and waits. It only ever waits for its own pid, never
//    for "any child", so it does not steal other threads' children.
//  - A spawned program starts with default signal dispositions and an empty
//    signal mask, whatever the caller's threads have (an ignored or blocked
//    SIGPIPE must not leak into helpers, git or the container runtime).
//  - Only the fds the options name reach the child: kiln opens everything
//    close-on-exec, and stdin/stdout/stderr and `extra_fds` are dup2'ed into
//    place.
//  - The child stays in kiln's process group, so a terminal's Ctrl-C reaches
//    it as it reaches kiln.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace kiln {

// How one of the child's standard streams is connected.
struct Stdio {
    enum class Kind {
        inherit,  // kiln's own
        null,     // /dev/null
        fd,       // the caller's fd (not closed by the Process)
        pipe,     // a pipe whose other end the Process holds
    };
    Kind kind = Kind::inherit;
    int fd = -1;

    static Stdio inherited() { return {}; }
    static Stdio dev_null() { return {Kind::null, -1}; }
    static Stdio from_fd(int fd) { return {Kind::fd, fd}; }
    static Stdio piped() { return {Kind::pipe, -1}; }
};

struct ProcessOptions {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH; must not be empty
    // The whole environment; none: kiln's own.
    std::optional<std::vector<std::string>> env;
    std::filesystem::path cwd;  // empty: kiln's
    Stdio in = Stdio::dev_null();
    Stdio out = Stdio::inherited();
    Stdio err = Stdio::inherited();
    // Become the child's fds 3, 4, ... in this order.
    std::vector<int> extra_fds;
};

// The program could not be started at all (not found, not executable, ...).
class SpawnError : public Error {
  public:
    SpawnError(const std::string& program, int error);
    std::string program;
    int error;  // an errno value; ENOENT: not found in PATH
};

class Process {
  public:
    Process() = default;
    Process(Process&& o) noexcept;
    Process& operator=(Process&& o) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    // Starts options.argv. Throws SpawnError when it cannot be started, Error
    // when the pipes cannot be made.
    static Process spawn(const ProcessOptions& options);

    // Runs fn(arg) in a child that is a copy of this process, and which exits with what fn
    // returns. Other threads' locks may be held in the child: fn may make only
    // async-signal-safe calls (no allocation, no stdio, no exceptions).
    static Process run_in_child(int (*fn)(void* arg), void* arg);

    pid_t pid() const { return pid_; }

    // The parent's ends of Stdio::piped() streams (empty otherwise). The caller
    // may close or take them.
    UniqueFd& stdin_pipe() { return in_; }
    UniqueFd& stdout_pipe() { return out_; }
    UniqueFd& stderr_pipe() { return err_; }

    // True once the child has exited (exit_code() is then valid).
    bool try_wait();
    void wait();
    // Waits up to `timeout`; true when exited.
    bool wait_for(std::chrono::milliseconds timeout);
    // Waits until the child exits, killing it (SIGKILL) and reaping it when
    // `cancel` gets set (then throws Cancelled) or `timeout` passes (then
    // returns false). A zero timeout waits without limit.
    bool wait_or_kill(std::chrono::milliseconds timeout, const CancelFlag* cancel);

    // Sends `sig` unless the child is already reaped.
    void kill(int sig);

    // Shell-like exit code: the exit status, or 128+N for a signal N.
    int exit_code() const;

  private:
    void release() noexcept;

    pid_t pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
    UniqueFd in_, out_, err_;
};

struct RunOptions {
    // Written to stdin when the process's `in` is Stdio::piped(); the pipe is
    // then closed. A child that exits without reading it all is not an error.
    std::string input;
    std::chrono::milliseconds timeout{0};  // 0: none
    const CancelFlag* cancel = nullptr;
    // Of each captured stream, what is kept (a flood means something else is wrong).
    std::size_t max_captured = 1 << 20;
};

struct ProcessResult {
    int exit_code = -1;      // as Process::exit_code()
    std::string out;         // what the child wrote to a piped stdout
    std::string err;         // ... and to a piped stderr
    bool timed_out = false;  // killed after RunOptions::timeout
};

// Runs the process to its end, feeding `input` and collecting piped output.
// On timeout the child is killed and `timed_out` set; on cancel it is killed
// and Cancelled thrown.
ProcessResult run_process(const ProcessOptions& options, const RunOptions& run = {});

}  // namespace kiln
