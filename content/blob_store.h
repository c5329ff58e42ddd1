// Content-addressed blobs under <layout>/blobs/sha256/<hex>.
//
// Invariants:
//  - A file at blobs/sha256/<hex> is complete and its SHA-256 is <hex>: it is
//    written to a temp file, hashed while streaming, verified, fsynced and only
//    then renamed to its name.
//  - Reading verifies too (a blob may have been corrupted on disk): a Reader
//    throws at end of stream if the bytes do not match the name, so callers
//    must not publish what they derived from a blob before reading it whole.
//    A corrupt blob is moved out of blobs/ into the temp dir when detected,
//    so the next write of that content restores the store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "content/atomic_file.h"
#include "content/digest.h"

namespace kiln::content {

class LazyLayers;

struct BlobInfo {
    Digest digest;
    std::int64_t size = 0;
};

class BlobStore {
  public:
    // `layout` is an OCI layout directory; `temp_dir` must be on the same filesystem.
    BlobStore(std::filesystem::path layout, std::filesystem::path temp_dir);

    bool has(const Digest& d) const;
    std::filesystem::path path(const Digest& d) const;

    // Streams bytes in; commit() names the blob by what was written.
    class Writer {
      public:
        void write(const void* data, std::size_t size);
        void write(std::string_view s) { write(s.data(), s.size()); }
        std::int64_t size() const { return size_; }
        // Publishes the blob. If `expected` is given and differs, throws and
        // publishes nothing.
        BlobInfo commit(const std::optional<Digest>& expected = std::nullopt);

      private:
        friend class BlobStore;
        Writer(const BlobStore& store, AtomicFile file) : store_(&store), file_(std::move(file)) {}
        const BlobStore* store_;
        AtomicFile file_;
        Sha256 hash_;
        std::int64_t size_ = 0;
    };
    Writer writer() const;

    BlobInfo put(std::string_view bytes) const;

    // Reads a whole (small) blob, verified. Throws kiln::Error if missing or corrupt.
    std::string read_all(const Digest& d) const;

    // Streams a blob; read() returns 0 at end, after verifying the digest.
    class Reader {
      public:
        std::size_t read(void* buf, std::size_t size);
        std::int64_t size() const { return size_; }

      private:
        friend class BlobStore;
        Reader(Digest d, std::filesystem::path p, UniqueFd fd, std::int64_t size,
               std::filesystem::path quarantine_dir)
            : digest_(std::move(d)),
              path_(std::move(p)),
              fd_(std::move(fd)),
              size_(size),
              quarantine_dir_(std::move(quarantine_dir)) {}
        Digest digest_;
        std::filesystem::path path_;
        UniqueFd fd_;
        std::int64_t size_;
        std::filesystem::path quarantine_dir_;
        Sha256 hash_;
        bool verified_ = false;
    };
    // A blob the store lacks but `lazy` knows is fetched first (content/lazy_layers.h).
    Reader reader(const Digest& d) const;

    // Blobs of this build that are fetched on first read; null = none.
    void set_lazy(const LazyLayers* lazy) { lazy_ = lazy; }
    const LazyLayers* lazy() const { return lazy_; }
    // has(d), fetching `d` first when it is lazily known.
    bool ensure(const Digest& d) const;

    const std::filesystem::path& layout() const { return layout_; }
    const std::filesystem::path& temp_dir() const { return temp_dir_; }

  private:
    std::filesystem::path layout_;
    std::filesystem::path temp_dir_;
    const LazyLayers* lazy_ = nullptr;
};

}  // namespace kiln::content
