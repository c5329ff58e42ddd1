// Files that appear complete or not at all.
//
// Invariant: the final path never holds partial content. Data goes to a temp
// file in `temp_dir` (same filesystem as the destination), which commit()
// fsyncs and renames into place and then fsyncs the destination directory.
// A writer destroyed without commit() removes its temp file.
//
// Writeback of a large file starts while it is written (every kWritebackStep
// bytes, asynchronously), so commit()'s fsync waits for the tail only, not
// for the whole file: a pulled or exported layer of hundreds of MB otherwise
// spends a tenth of a second or more in that fsync, on the build's path.
// The writeback is started from a thread of the file's own (made once the
// file passes kWritebackStep): submitting the I/O costs about as much CPU as
// copying the bytes, and done inline it made writing a 200 MB layer take 0.5 s
// instead of 0.3. The thread is joined before commit()'s fsync and on destruction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace kiln {

// What commit() makes durable. `durable`: the content, then the name (the
// file is fsynced before the rename, the directory after it). `unsynced`:
// nothing; the rename alone, so readers never see a partial write while kiln
// runs, but after a crash the name may be missing or hold an empty or stale
// file. Only for files whose reader checks what it reads and takes a bad one
// as absent (a cache record names its own key): any fsync waits behind
// whatever the file system is writing out, 0.3 s behind a 200 MB snapshot.
enum class Durability { durable, unsynced };

class AtomicFile {
  public:
    AtomicFile(std::filesystem::path final_path, const std::filesystem::path& temp_dir,
               mode_t mode = 0644);
    ~AtomicFile();
    AtomicFile(AtomicFile&&) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;
    AtomicFile(const AtomicFile&) = delete;

    void write(const void* data, std::size_t size);
    void write(std::string_view s) { write(s.data(), s.size()); }
    int fd() const { return fd_.get(); }
    // fsync, rename over the final path, fsync the directory (`durable`).
    void commit(Durability durability = Durability::durable);
    // Like commit() but to another final path (used once the content's name is known).
    void commit_as(const std::filesystem::path& final_path,
                   Durability durability = Durability::durable);
    const std::filesystem::path& temp_path() const { return temp_; }

    static constexpr std::int64_t kWritebackStep = 8 << 20;

  private:
    class Writeback;  // the thread that starts writeback (atomic_file.cpp)

    std::filesystem::path final_;
    std::filesystem::path temp_;
    UniqueFd fd_;
    bool done_ = false;
    std::int64_t written_ = 0;
    std::int64_t writeback_from_ = 0;       // bytes before this are already queued
    std::unique_ptr<Writeback> writeback_;  // after fd_: stopped before it closes
};

// Writes `content` to `path` atomically (temp file in the same directory).
void write_file_atomic(const std::filesystem::path& path, std::string_view content,
                       mode_t mode = 0644, Durability durability = Durability::durable);

std::string read_file(const std::filesystem::path& path);

void fsync_dir(const std::filesystem::path& dir);

}  // namespace kiln
