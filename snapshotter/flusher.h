// Snapshot contents reach the disk in the background, not on a build's path.
//
// Writable overlays are mounted `volatile` (mount.h), so unmounting one no
// longer runs syncfs(2) on the whole store's file system: that sync wrote out
// everything dirty there (a just-pulled base image, a 200 MB context copy)
// and took 0.1-0.3 s inside the step that first unmounted. Unpacked layers
// were never synced by anything else. Instead, each published snapshot asks
// the Flusher for a syncfs, which runs on its own thread while the build goes
// on; requests made while one runs are served by one more run.
//
// Contract:
//  - request() returns at once. Every snapshot published before a request()
//    is on disk once a syncfs that started after it has ended.
//  - The destructor waits until every request made so far is served, so a
//    kiln process that committed snapshots exits only once they are on
//    disk, as it did when unmounting synced them.
//  - syncfs errors are not reported here (there is no step left to fail); a
//    file that could not be written shows its error when read.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/unique_fd.h"

namespace kiln::snapshotter {

class Flusher {
  public:
    // `dir`: any directory on the file system to sync.
    explicit Flusher(const std::filesystem::path& dir);
    ~Flusher();
    Flusher(const Flusher&) = delete;
    Flusher& operator=(const Flusher&) = delete;

    void request();
    // Blocks until every request so far is served (the destructor's wait).
    void wait();
    // How many syncfs calls have ended (for tests).
    std::uint64_t syncs() const;

  private:
    void run();

    UniqueFd fd_;
    mutable std::mutex mu_;
    std::condition_variable work_, served_;
    std::uint64_t requested_ = 0;  // generation of the newest request
    std::uint64_t done_ = 0;       // every request up to this one is served
    std::uint64_t syncs_ = 0;
    bool stop_ = false;
    std::thread thread_;  // last: started once the state exists
};

}  // namespace kiln::snapshotter
