// A child process that is always reaped (internal to sandbox/).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sandbox/sandbox.h"

extern char** environ;

namespace kiln::sandbox::detail {

// A child process that is always reaped: destroying it unreaped kills (SIGKILL) and
// waits. It only ever waits for its own pid, never for "any child", so it does not steal
// other threads' children.
class Child {
  public:
    Child() = default;
    Child(Child&& o) noexcept
        : pid_(std::exchange(o.pid_, -1)), status_(o.status_), reaped_(o.reaped_) {}
    Child& operator=(Child&& o) noexcept {
        if (this != &o) {
            release();
            pid_ = std::exchange(o.pid_, -1);
            status_ = o.status_;
            reaped_ = o.reaped_;
        }
        return *this;
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() { release(); }

    // Starts argv[0] (looked up in PATH) with the given stdin/stdout/stderr, and
    // `extra` as fds 3, 4, ...; the child gets default signal dispositions and an empty
    // mask whatever the caller's threads have (an ignored SIGPIPE must not leak into
    // the build's processes).
    static Child spawn(const std::vector<std::string>& argv, int in, int out, int err,
                       const std::vector<int>& extra = {}) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in, 0);
        posix_spawn_file_actions_adddup2(&actions, out, 1);
        posix_spawn_file_actions_adddup2(&actions, err, 2);
        for (size_t i = 0; i < extra.size(); ++i) {
            posix_spawn_file_actions_adddup2(&actions, extra[i], static_cast<int>(3 + i));
        }
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        std::vector<char*> cargv;
        for (const auto& a : argv) {
            cargv.push_back(const_cast<char*>(a.c_str()));
        }
        cargv.push_back(nullptr);
        Child c;
        int rc = ::posix_spawnp(&c.pid_, cargv[0], &actions, &attr, cargv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) {
            c.pid_ = -1;
            throw SandboxError("\"" + argv[0] + "\" cannot be started: " + std::strerror(rc) +
                               (rc == ENOENT ? " (is it installed and in PATH?)" : ""));
        }
        return c;
    }

    // True once the child has exited (status() is then valid).
    bool try_wait() {
        if (pid_ <= 0) {
            reaped_ = true;  // never waitpid(-1): that would reap another thread's child
        }
        if (reaped_) {
            return true;
        }
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

    void wait() {
        if (pid_ <= 0) {
            reaped_ = true;
        }
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

    // Waits up to `timeout`; true when exited.
    bool wait_for(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!try_wait()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return true;
    }

    void kill(int sig) {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, sig);
        }
    }

    // Shell-like exit code: the exit status, or 128+N for a signal N.
    int exit_code() const {
        if (WIFEXITED(status_)) {
            return WEXITSTATUS(status_);
        }
        if (WIFSIGNALED(status_)) {
            return 128 + WTERMSIG(status_);
        }
        return 255;
    }

  private:
    void release() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            wait();
        }
        pid_ = -1;
    }

    pid_t pid_ = -1;
    int status_ = 0;
    bool reaped_ = false;
};

}  // namespace kiln::sandbox::detail
