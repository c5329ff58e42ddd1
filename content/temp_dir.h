// A directory that is removed, with everything in it, on scope exit.
#pragma once

#include <filesystem>

namespace kiln {

class TempDir {
  public:
    // Creates a fresh directory "<parent>/<prefix>XXXXXX".
    TempDir(const std::filesystem::path& parent, const std::string& prefix);
    ~TempDir();
    TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // Keeps the directory (e.g. after it was renamed into place).
    void release() { path_.clear(); }

  private:
    std::filesystem::path path_;
};

}  // namespace kiln
