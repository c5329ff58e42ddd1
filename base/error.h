// kiln's error types for things a user did or must fix.
//
// Contract: what() is one line a user can act on (it names the file, blob or
// reference at fault); nothing below cli/ prints it. cli/ catches it once and
// turns it into a non-zero exit.
#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
    // Lines a printer shows after what() (a Dockerfile excerpt, each line
    // ending in '\n'); "" for most errors.
    virtual std::string detail() const { return {}; }
};

// A mistake in how kiln was called: a flag's value, or a spec (`-o`,
// `--cache-to`, `--secret`, `--filter`) it cannot take. The CLI exits 2 for
// it, as for a flag it does not know; what() names the flag.
class UsageError : public Error {
  public:
    using Error::Error;
};

// The user asked kiln to stop (Ctrl-C, SIGTERM) and the work was abandoned
// part way. Code tells a cancellation from a failure by this type, never by
// the message; the CLI exits 130 for it. The message is "interrupted" unless
// a caller names what was stopped.
class Cancelled : public Error {
  public:
    Cancelled() : Error("interrupted") {}
    explicit Cancelled(const std::string& what) : Error(what) {}
};

// What long-running work watches to stop early: set (by a signal handler, or
// by a scheduler after a failure) and never cleared while the work runs.
using CancelFlag = std::atomic<bool>;

// Throws Cancelled when `cancel` is given and set.
void throw_if_cancelled(const CancelFlag* cancel);

// Builds an Error from the current errno: "<what>: <strerror(errno)>".
Error errno_error(const std::string& what);

}  // namespace kiln
