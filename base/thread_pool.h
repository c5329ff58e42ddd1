// A fixed set of worker threads running submitted tasks in submission order.
//
// Contract: the pool starts `threads` workers (at least one) at construction and never more.
// Tasks start in the order they were submitted, each on whichever worker is free; a task's
// exception is not lost: it is stored in the future submit() returned, and get() rethrows it.
// Destruction finishes every task already submitted, then joins the workers, so no task
// outlives the pool and no thread is left behind, whatever path leaves the owner's scope.
// Tasks must not wait for tasks submitted after them (with every worker waiting, none
// would run).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln {

class ThreadPool {
  public:
    explicit ThreadPool(std::size_t threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    std::size_t size() const { return workers_.size(); }

    // Queues `task`; the future becomes ready when it returned or threw.
    std::future<void> submit(std::function<void()> task);

  private:
    void work();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::packaged_task<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> workers_;
};

// Runs fn(0..n-1) on at most `threads` threads (fewer than one counts as one; with one, or
// one item, on the calling thread), items starting in index order. After the first
// exception no further item starts; the running ones finish, then that exception is
// rethrown.
void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn);

}  // namespace kiln
