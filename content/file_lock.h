// An exclusive advisory lock on a file (flock), held for the object's lifetime.
//
// Why flock: it is released by the kernel when the process dies, so a killed
// kiln never leaves a stale lock behind.
#pragma once

#include <filesystem>

#include "base/unique_fd.h"

namespace kiln {

class FileLock {
  public:
    // Blocks until the lock on `path` (created if missing) is held.
    explicit FileLock(const std::filesystem::path& path);
    FileLock(FileLock&&) noexcept = default;

  private:
    UniqueFd fd_;
};

}  // namespace kiln
