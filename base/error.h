// kiln's error type for things a user did or must fix.
//
// Contract: what() is one line a user can act on (it names the file, blob or
// reference at fault); nothing below cli/ prints it. cli/ catches it once and
// turns it into a non-zero exit.
#pragma once

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

// Builds an Error from the current errno: "<what>: <strerror(errno)>".
Error errno_error(const std::string& what);

}  // namespace kiln
