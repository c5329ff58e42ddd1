#include "base/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

namespace kiln {

ThreadPool::ThreadPool(std::size_t threads) {
    threads = std::max<std::size_t>(threads, 1);
    workers_.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i)
            workers_.emplace_back([this] { work(); });
    } catch (...) {
        // A thread that would not start: the ones that did are stopped before the throw.
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_)
            t.join();
        throw;
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_)
        t.join();
}

std::future<void> ThreadPool::submit(std::function<void()> task) {
    std::packaged_task<void()> pt(std::move(task));
    std::future<void> done = pt.get_future();
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(pt));
    }
    cv_.notify_one();
    return done;
}

void ThreadPool::work() {
    for (;;) {
        std::packaged_task<void()> task;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            // Stopping still drains the queue: every submitted task runs.
            if (queue_.empty())
                return;
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task();  // an exception is stored in the task's future
    }
}

void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn) {
    threads = std::min(n, std::max<std::size_t>(threads, 1));
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i)
            fn(i);
        return;
    }
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::exception_ptr first;
    {
        ThreadPool pool(threads);
        for (std::size_t i = 0; i < n; ++i) {
            pool.submit([&, i] {
                if (failed)
                    return;  // an earlier item failed: this one never starts
                try {
                    fn(i);
                } catch (...) {
                    std::lock_guard lock(mu);
                    if (!first)
                        first = std::current_exception();
                    failed = true;
                }
            });
        }
    }  // joins: every item has run or been skipped
    if (first)
        std::rethrow_exception(first);
}

}  // namespace kiln
