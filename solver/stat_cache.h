// Content digests of context files, remembered by their stat data.
//
// Why: an unchanged rebuild must not read file contents. A file whose
// (dev, inode, size, mtime, ctime) are as recorded keeps its recorded
// digest; anything else is read and hashed again. `touch` changes mtime and
// so costs one re-read, never a wrong digest. The cache is a hint: losing
// it (or two processes overwriting each other's) only costs re-reading.
//
// The digest covers the file's extended attributes too, since COPY copies
// them (a `setcap` on a context binary must miss the cache): a file without
// any has the SHA-256 of its content; a file with some has the SHA-256 of
// that digest followed by its attributes, sorted. Setting an attribute moves
// ctime, so a cached digest never misses one.
#pragma once

#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "content/digest.h"

namespace kiln::solver {

class StatCache {
  public:
    // `file` holds the cache between builds (created on save()).
    explicit StatCache(std::filesystem::path file);

    // The digest (above) of the regular file at `path` (stat data `st`), keyed by `key`.
    content::Digest digest(const std::string& key, const std::filesystem::path& path,
                           const struct stat& st);
    // How many files were read (not answered from the cache) so far.
    size_t reads() const { return reads_; }
    // Writes the cache back when it changed (atomically).
    void save();

    // How a key (a file name: any bytes) is kept in the cache file, whose JSON
    // holds only UTF-8: '%' and every byte that is not part of a well-formed
    // UTF-8 sequence become %XX; everything else is kept as it is.
    // decode_key(encode_key(k)) == k for every k; nullopt for a malformed escape.
    static std::string encode_key(std::string_view key);
    static std::optional<std::string> decode_key(std::string_view text);

    // The digest is kept as its 32 bytes: a 20,000-file context's cache
    // weighs about 2 MB less than with the digest's text.
    struct Entry {
        unsigned long long dev = 0, ino = 0, size = 0;
        long long mtime_ns = 0, ctime_ns = 0;
        std::array<unsigned char, 32> digest{};
    };
    // "sha256:<64 lower-case hex>" to its bytes; false when malformed.
    static bool digest_bytes(std::string_view text, std::array<unsigned char, 32>& out);
    static content::Digest digest_of_bytes(const std::array<unsigned char, 32>& bytes);

  private:
    std::filesystem::path file_;
    std::mutex mu_;
    std::map<std::string, Entry> entries_;
    bool dirty_ = false;
    size_t reads_ = 0;
};

}  // namespace kiln::solver
