// FileWriters: a COPY's files written on worker threads; every job ends
// before wait() returns, the first failure comes out of it, and nothing a job
// holds outlives the writers.
#include "solver/file_writers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace kiln::solver {
namespace {

TEST(FileWriters, EveryJobHasRunWhenWaitReturns) {
    FileWriters w(2);
    std::atomic<int> done{0};
    for (int i = 0; i < 1000; ++i)
        w.add([&] { ++done; });
    w.wait();
    EXPECT_EQ(done.load(), 1000);
}

TEST(FileWriters, MoreJobsThanTheQueueHoldsAllRun) {
    FileWriters w(2);
    std::atomic<int> done{0};
    const int n = static_cast<int>(FileWriters::kMaxQueued) * 3;
    for (int i = 0; i < n; ++i)
        w.add([&] {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            ++done;
        });
    w.wait();
    EXPECT_EQ(done.load(), n);
}

TEST(FileWriters, JobsRunOnOtherThreads) {
    FileWriters w(2);
    std::mutex mu;
    std::set<std::thread::id> ids;
    for (int i = 0; i < 50; ++i)
        w.add([&] {
            std::lock_guard lock(mu);
            ids.insert(std::this_thread::get_id());
        });
    w.wait();
    EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(FileWriters, WaitRethrowsTheFirstFailureThenTheWritersWorkAgain) {
    FileWriters w(2);
    w.add([] { throw std::runtime_error("cannot open /data/x"); });
    try {
        w.wait();
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "cannot open /data/x");
    }
    std::atomic<int> done{0};
    w.add([&] { ++done; });
    w.wait();
    EXPECT_EQ(done.load(), 1);
}

TEST(FileWriters, AfterAFailureNoFurtherJobIsQueued) {
    FileWriters w(2);
    w.add([] { throw std::runtime_error("disk full"); });
    // Let the failure land before more come.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::atomic<int> done{0};
    for (int i = 0; i < 10; ++i)
        w.add([&] { ++done; });
    EXPECT_THROW(w.wait(), std::runtime_error);
    EXPECT_EQ(done.load(), 0);
}

TEST(FileWriters, DestroyedWithJobsQueuedItReleasesWhatTheyHeld) {
    auto held = std::make_shared<int>(7);
    {
        FileWriters w(2);
        for (int i = 0; i < 100; ++i)
            w.add([held] {
                (void)held;
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            });
    }
    EXPECT_EQ(held.use_count(), 1);
}

TEST(FileWriters, WithOneThreadAJobRunsInAdd) {
    FileWriters w(1);
    std::thread::id ran;
    w.add([&] { ran = std::this_thread::get_id(); });
    EXPECT_EQ(ran, std::this_thread::get_id());
    EXPECT_THROW(w.add([] { throw std::runtime_error("x"); }), std::runtime_error);
    w.wait();
}

}  // namespace
}  // namespace kiln::solver
