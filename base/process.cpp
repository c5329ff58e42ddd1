#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;

// How often a wait looks at its cancel flag.
constexpr std::chrono::milliseconds kCancelPoll{50};

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw errno_error("cannot create a pipe");
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// posix_spawn attributes and file actions, destroyed on scope exit.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Writing a child's stdin after it exited must give EPIPE, not kill kiln:
// SIGPIPE is blocked in this thread for the call and a pending one consumed.
class SigpipeGuard {
  public:
    SigpipeGuard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        ::sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~SigpipeGuard() {
        if (!was_pending_) {
            sigset_t pending;
            sigemptyset(&pending);
            ::sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                timespec zero{};
                ::sigtimedwait(&pipe_, nullptr, &zero);
            }
        }
        ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

  private:
    sigset_t pipe_;
    sigset_t old_;
    bool was_pending_ = false;
};

std::string spawn_message(const std::string& program, int error) {
    return "\"" + program + "\" cannot be started: " + std::strerror(error) +
           (error == ENOENT ? " (is it installed and in PATH?)" : "");
}

}  // namespace

SpawnError::SpawnError(const std::string& program, int error)
    : Error(spawn_message(program, error)), program(program), error(error) {}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      status_(o.status_),
      reaped_(o.reaped_),
      in_(std::move(o.in_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)) {}

Process& Process::operator=(Process&& o) noexcept {
    if (this != &o) {
        release();
        pid_ = std::exchange(o.pid_, -1);
        status_ = o.status_;
        reaped_ = o.reaped_;
        in_ = std::move(o.in_);
        out_ = std::move(o.out_);
        err_ = std::move(o.err_);
    }
    return *this;
}

Process::~Process() {
    release();
}

void Process::release() noexcept {
    // Our pipe ends first: a child blocked writing to a full pipe then fails.
    in_.reset();
    out_.reset();
    err_.reset();
    if (pid_ > 0 && !reaped_) {
        ::kill(pid_, SIGKILL);
        wait();
    }
    pid_ = -1;
    reaped_ = false;
    status_ = 0;
}

Process Process::spawn(const ProcessOptions& options) {
    if (options.argv.empty())
        throw Error("cannot start a process: no program given");
    SpawnSetup setup;
    Process p;
    // The child's ends of its pipes; closed in the parent once it runs.
    UniqueFd child_ends[3];
    const Stdio* streams[3] = {&options.in, &options.out, &options.err};
    UniqueFd* parent_ends[3] = {&p.in_, &p.out_, &p.err_};
    for (int target = 0; target < 3; ++target) {
        const Stdio& s = *streams[target];
        switch (s.kind) {
            case Stdio::Kind::inherit:
                break;
            case Stdio::Kind::null:
                posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null",
                                                 target == 0 ? O_RDONLY : O_WRONLY, 0);
                break;
            case Stdio::Kind::fd:
                // dup2 clears close-on-exec on the target.
                posix_spawn_file_actions_adddup2(&setup.actions, s.fd, target);
                break;
            case Stdio::Kind::pipe: {
                auto [r, w] = make_pipe();
                if (target == 0) {
                    child_ends[0] = std::move(r);
                    *parent_ends[0] = std::move(w);
                } else {
                    child_ends[target] = std::move(w);
                    *parent_ends[target] = std::move(r);
                }
                posix_spawn_file_actions_adddup2(&setup.actions, child_ends[target].get(), target);
                break;
            }
        }
    }
    // Extra fds are first copied above the slots they go to: one that already
    // sits in a slot (fd 3 given as the second extra fd) would otherwise be
    // overwritten by the first dup2 before it is moved to its own.
    const int first_free = 3 + static_cast<int>(options.extra_fds.size());
    std::vector<UniqueFd> lifted;
    for (int fd : options.extra_fds) {
        lifted.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, first_free));
        if (!lifted.back())
            throw errno_error("cannot pass fd " + std::to_string(fd) + " to " + options.argv[0]);
    }
    for (std::size_t i = 0; i < lifted.size(); ++i) {
        posix_spawn_file_actions_adddup2(&setup.actions, lifted[i].get(), static_cast<int>(3 + i));
    }
    if (!options.cwd.empty())
        posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());

    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&setup.attr, &none);
    posix_spawnattr_setsigdefault(&setup.attr, &all);
    posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> argv;
    for (const auto& a : options.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (options.env) {
        for (const auto& e : *options.env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }
    int rc = ::posix_spawnp(&p.pid_, argv[0], &setup.actions, &setup.attr, argv.data(),
                            options.env ? envp.data() : environ);
    if (rc != 0) {
        p.pid_ = -1;
        throw SpawnError(options.argv[0], rc);
    }
    return p;
}

Process Process::run_in_child(int (*fn)(void*), void* arg) {
    Process p;
    p.pid_ = ::fork();
    if (p.pid_ < 0) {
        p.pid_ = -1;
        throw errno_error("fork");
    }
    if (p.pid_ == 0)
        ::_exit(fn(arg));
    return p;
}

bool Process::try_wait() {
    if (pid_ <= 0)
        reaped_ = true;  // never waitpid(-1): that would reap another thread's child
    if (reaped_)
        return true;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = st;
        reaped_ = true;
    } else if (r < 0 && errno != EINTR) {
        reaped_ = true;  // not ours any more (ECHILD): nothing to reap
        status_ = 0;
    }
    return reaped_;
}

void Process::wait() {
    if (pid_ <= 0)
        reaped_ = true;
    while (!reaped_) {
        int st = 0;
        pid_t r = ::waitpid(pid_, &st, 0);
        if (r == pid_) {
            status_ = st;
            reaped_ = true;
        } else if (r < 0 && errno != EINTR) {
            reaped_ = true;
        }
    }
}

bool Process::wait_for(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!try_wait()) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

bool Process::wait_or_kill(std::chrono::milliseconds timeout, const CancelFlag* cancel) {
    const bool limited = timeout.count() > 0;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto slice = kCancelPoll;
        if (limited)
            slice = std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        deadline - Clock::now()));
        if (slice.count() < 0)
            slice = std::chrono::milliseconds(0);
        if (wait_for(slice))
            return true;
        if (cancel && cancel->load()) {
            kill(SIGKILL);
            wait();
            throw Cancelled();
        }
        if (limited && Clock::now() >= deadline) {
            kill(SIGKILL);
            wait();
            return false;
        }
    }
}

void Process::kill(int sig) {
    if (pid_ > 0 && !reaped_)
        ::kill(pid_, sig);
}

int Process::exit_code() const {
    if (WIFEXITED(status_))
        return WEXITSTATUS(status_);
    if (WIFSIGNALED(status_))
        return 128 + WTERMSIG(status_);
    return 255;
}

ProcessResult run_process(const ProcessOptions& options, const RunOptions& run) {
    SigpipeGuard sigpipe;
    Process p = Process::spawn(options);
    UniqueFd& in = p.stdin_pipe();
    UniqueFd& out = p.stdout_pipe();
    UniqueFd& err = p.stderr_pipe();
    ProcessResult result;
    std::size_t written = 0;
    if (run.input.empty())
        in.reset();
    // Poll says only that some room is free: a blocking write of the rest would
    // wait for the child to read while the child waits for us to drain its output.
    if (in)
        ::fcntl(in.get(), F_SETFL, ::fcntl(in.get(), F_GETFL) | O_NONBLOCK);
    const bool limited = run.timeout.count() > 0;
    const auto deadline = Clock::now() + run.timeout;
    auto timed_out = [&] {
        p.kill(SIGKILL);
        p.wait();
        result.timed_out = true;
        result.exit_code = p.exit_code();
        return result;
    };
    while (in || out || err) {
        throw_if_cancelled(run.cancel);  // the Process kills and reaps the child
        std::array<pollfd, 3> fds{};
        UniqueFd* owners[3];
        nfds_t n = 0;
        for (UniqueFd* fd : {&in, &out, &err}) {
            if (*fd) {
                fds[n] = {fd->get(), static_cast<short>(fd == &in ? POLLOUT : POLLIN), 0};
                owners[n++] = fd;
            }
        }
        int wait_ms = -1;
        if (limited) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0)
                return timed_out();
            wait_ms = static_cast<int>(left.count());
        }
        if (run.cancel) {
            int slice = static_cast<int>(kCancelPoll.count());
            wait_ms = wait_ms < 0 ? slice : std::min(wait_ms, slice);
        }
        int r = ::poll(fds.data(), n, wait_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            throw errno_error("cannot wait for " + options.argv[0]);
        }
        for (nfds_t i = 0; i < n; ++i) {
            if (fds[i].revents == 0)
                continue;
            UniqueFd& fd = *owners[i];
            if (&fd == &in) {
                ssize_t w =
                    ::write(fd.get(), run.input.data() + written, run.input.size() - written);
                if (w < 0 && errno != EINTR && errno != EAGAIN) {
                    fd.reset();  // EPIPE: the child did not want all of it
                    continue;
                }
                if (w > 0)
                    written += static_cast<std::size_t>(w);
                if (written == run.input.size())
                    fd.reset();
                continue;
            }
            char buf[4096];
            ssize_t got = ::read(fd.get(), buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                fd.reset();
                continue;
            }
            std::string& sink = &fd == &out ? result.out : result.err;
            if (sink.size() < run.max_captured)
                sink.append(buf, static_cast<std::size_t>(got));
        }
    }
    std::chrono::milliseconds left{0};
    if (limited) {
        left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return timed_out();
    }
    if (!p.wait_or_kill(left, run.cancel)) {
        result.timed_out = true;
    }
    result.exit_code = p.exit_code();
    return result;
}

}  // namespace kiln
