#include "snapshotter/flusher.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"

namespace kiln::snapshotter {

Flusher::Flusher(const std::filesystem::path& dir)
    : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (!fd_)
        throw errno_error("cannot open " + dir.string());
    // The thread starts on the first request: most commands never commit.
}

Flusher::~Flusher() {
    wait();
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    work_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void Flusher::request() {
    std::lock_guard lock(mu_);
    ++requested_;
    if (!thread_.joinable())
        thread_ = std::thread([this] { run(); });
    work_.notify_one();
}

void Flusher::wait() {
    std::unique_lock lock(mu_);
    served_.wait(lock, [&] { return done_ >= requested_; });
}

std::uint64_t Flusher::syncs() const {
    std::lock_guard lock(mu_);
    return syncs_;
}

void Flusher::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        work_.wait(lock, [&] { return stop_ || done_ < requested_; });
        if (done_ >= requested_)
            return;  // stopping, nothing owed
        // Everything published before this generation's request is in the
        // page cache now: one syncfs serves them all.
        std::uint64_t gen = requested_;
        lock.unlock();
        ::syncfs(fd_.get());
        lock.lock();
        done_ = gen;
        ++syncs_;
        served_.notify_all();
    }
}

}  // namespace kiln::snapshotter
