#include "snapshotter/reaper.h"

#include "snapshotter/tree.h"

namespace kiln::snapshotter {

Reaper::~Reaper() {
    wait();
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    work_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void Reaper::remove(std::filesystem::path dir) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(dir));
    if (!thread_.joinable())
        thread_ = std::thread([this] { run(); });
    work_.notify_one();
}

void Reaper::wait() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void Reaper::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty())
            return;  // stopping, nothing owed
        std::filesystem::path dir = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        tree::remove_tree_quiet(dir);
        lock.lock();
        busy_ = false;
        if (queue_.empty())
            idle_.notify_all();
    }
}

}  // namespace kiln::snapshotter
