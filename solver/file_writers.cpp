#include "solver/file_writers.h"

namespace kiln::solver {

FileWriters::FileWriters(std::size_t threads) : threads_(threads) {}

FileWriters::~FileWriters() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        queue_.clear();
    }
    has_job_.notify_all();
    has_room_.notify_all();
    for (auto& t : workers_)
        t.join();
}

void FileWriters::add(std::function<void()> job) {
    if (threads_ <= 1) {
        job();
        return;
    }
    std::unique_lock lock(mu_);
    if (workers_.empty())
        for (std::size_t i = 0; i < threads_; ++i)
            workers_.emplace_back([this] { work(); });
    has_room_.wait(lock, [&] { return queue_.size() < kMaxQueued || failure_; });
    if (failure_)
        return;  // wait() reports it; nothing more starts
    queue_.push_back(std::move(job));
    has_job_.notify_one();
}

void FileWriters::wait() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
    if (failure_) {
        std::exception_ptr e = failure_;
        failure_ = nullptr;
        std::rethrow_exception(e);
    }
}

void FileWriters::work() {
    std::unique_lock lock(mu_);
    for (;;) {
        has_job_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty())
            return;  // stopping
        std::function<void()> job = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
        has_room_.notify_one();
        lock.unlock();
        std::exception_ptr failed;
        try {
            job();
        } catch (...) {
            failed = std::current_exception();
        }
        job = nullptr;  // what it captured goes before it counts as ended
        lock.lock();
        --running_;
        if (failed && !failure_) {
            failure_ = failed;
            queue_.clear();
            has_room_.notify_all();
        }
        if (queue_.empty() && running_ == 0)
            idle_.notify_all();
    }
}

}  // namespace kiln::solver
