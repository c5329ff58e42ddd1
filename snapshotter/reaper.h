// Scratch trees are removed off the build's path.
//
// Removing even an empty directory waits while the file system writes out a
// metadata block it changes: behind the flush of a 200 MB snapshot
// (flusher.h), taking away a committed step's few empty work directories held
// the step for 0.3 s. A Reaper removes such trees on a thread of its own.
//
// Contract:
//  - remove(dir) returns at once; `dir` (no longer used by anyone) and
//    everything below it is removed later, never across a mount point.
//  - The destructor returns once everything handed over is removed, so a
//    kiln process leaves no more behind than when it removed them itself.
//    A process killed first leaves them under tmp/, where recovery finds
//    them (recovery.h).
//  - Removal errors are not reported (what is left is garbage under tmp/).
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

namespace kiln::snapshotter {

class Reaper {
  public:
    Reaper() = default;
    ~Reaper();
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;

    void remove(std::filesystem::path dir);
    // Blocks until every tree handed over so far is removed.
    void wait();

  private:
    void run();

    std::mutex mu_;
    std::condition_variable work_, idle_;
    std::deque<std::filesystem::path> queue_;
    bool busy_ = false;
    bool stop_ = false;
    std::thread thread_;  // last: started on the first remove()
};

}  // namespace kiln::snapshotter
