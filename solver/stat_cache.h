// Content digests of context files, remembered by their stat data.
//
// Why: an unchanged rebuild must not read file contents. A file whose
// (dev, inode, size, mtime, ctime) are as recorded keeps its recorded
// digest; anything else is read and hashed again. `touch` changes mtime and
// so costs one re-read, never a wrong digest. The cache is a hint: losing
// it (or two processes overwriting each other's) only costs re-reading.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "content/digest.h"

namespace kiln::solver {

class StatCache {
  public:
    // `file` holds the cache between builds (created on save()).
    explicit StatCache(std::filesystem::path file);

    // The SHA-256 of the regular file at `path` (stat data `st`), keyed by `key`.
    content::Digest digest(const std::string& key, const std::filesystem::path& path,
                           const struct stat& st);
    // How many files were read (not answered from the cache) so far.
    size_t reads() const { return reads_; }
    // Writes the cache back when it changed (atomically).
    void save();

  private:
    struct Entry {
        unsigned long long dev = 0, ino = 0, size = 0;
        long long mtime_ns = 0, ctime_ns = 0;
        std::string digest;
    };
    std::filesystem::path file_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
    bool dirty_ = false;
    size_t reads_ = 0;
};

}  // namespace kiln::solver
