// The regular files of one COPY written on several threads while the walk
// over its source goes on.
//
// Creating a file is most of a small file's copy, and it is the kernel's
// work: on ext4 after a store was wiped, each create also scans the inodes
// freed there (snapshotter.cpp, spread_children). Two threads creating files
// in different directories do that at once. The walk itself (what to copy,
// the copy journal, hard links, directories) stays on the calling thread.
//
// Contract:
//  - add(job) queues `job` and returns; while kMaxQueued jobs wait it blocks
//    first, so the fds and memory jobs hold stay bounded whatever the tree.
//  - wait() returns once every job added so far has ended, and rethrows the
//    first exception a job threw (the jobs after a failure are dropped, not
//    run). After wait() the writers may be used again.
//  - The destructor drops what has not started and waits for what has; it
//    throws nothing. A job must keep alive what it uses (captured fds).
//  - With one thread (`threads` <= 1) add() runs the job itself, and what it
//    throws comes out of add().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::solver {

class FileWriters {
  public:
    explicit FileWriters(std::size_t threads);
    ~FileWriters();
    FileWriters(const FileWriters&) = delete;
    FileWriters& operator=(const FileWriters&) = delete;

    void add(std::function<void()> job);
    void wait();

    static constexpr std::size_t kMaxQueued = 64;

  private:
    void work();

    std::size_t threads_;
    std::mutex mu_;
    std::condition_variable has_job_, has_room_, idle_;
    std::deque<std::function<void()>> queue_;
    std::size_t running_ = 0;
    std::exception_ptr failure_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;  // last: started on the first add()
};

}  // namespace kiln::solver
