// for_each_parallel: every item once, at most `jobs` at a time, and a failure
// stops the pool without leaving work running.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "registry/parallel.h"

namespace kiln::registry {
namespace {

// Spins until `cond` holds; gives up after a generous deadline so a broken
// pool fails the test instead of hanging it.
template <typename F>
bool wait_for(F cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

TEST(RegistryParallel, RunsEveryItemOnce) {
    std::vector<std::atomic<int>> runs(100);
    for_each_parallel(runs.size(), 4, [&](std::size_t i) { ++runs[i]; });
    for (std::size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(runs[i].load(), 1) << "item " << i;
    }
}

TEST(RegistryParallel, NoItemsNoCalls) {
    std::atomic<int> calls{0};
    for_each_parallel(0, 4, [&](std::size_t) { ++calls; });
    EXPECT_EQ(calls.load(), 0);
}

TEST(RegistryParallel, NonPositiveJobsStillRunsEverything) {
    std::atomic<int> calls{0};
    for_each_parallel(5, 0, [&](std::size_t) { ++calls; });
    EXPECT_EQ(calls.load(), 5);
}

TEST(RegistryParallel, AtMostJobsAtOnceAndUpToJobs) {
    std::atomic<int> running{0}, most{0}, first_three{0};
    for_each_parallel(40, 3, [&](std::size_t i) {
        int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        if (i < 3) {
            // The first three items wait for each other: they can only all
            // be there at once on three threads.
            ++first_three;
            EXPECT_TRUE(wait_for([&] { return first_three.load() == 3; }));
        }
        --running;
    });
    EXPECT_EQ(most.load(), 3);
}

TEST(RegistryParallel, OneJobRunsItemsInOrderOnOneThreadAtATime) {
    std::vector<std::size_t> order;
    std::atomic<int> running{0};
    for_each_parallel(6, 1, [&](std::size_t i) {
        EXPECT_EQ(++running, 1);
        order.push_back(i);
        --running;
    });
    EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(RegistryParallel, FirstExceptionRethrownAndNothingStartsAfterIt) {
    std::vector<std::size_t> started;
    try {
        for_each_parallel(10, 1, [&](std::size_t i) {
            started.push_back(i);
            if (i == 3) {
                throw std::runtime_error("item 3 failed");
            }
        });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "item 3 failed");
    }
    EXPECT_EQ(started, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(RegistryParallel, RunningItemsFinishBeforeTheExceptionIsRethrown) {
    std::atomic<bool> thrown{false};
    std::atomic<int> started{0}, finished{0};
    try {
        for_each_parallel(4, 4, [&](std::size_t i) {
            ++started;
            if (i == 0) {
                // Fail once all four are running.
                EXPECT_TRUE(wait_for([&] { return started.load() == 4; }));
                thrown = true;
                throw std::runtime_error("layer 0 failed");
            }
            EXPECT_TRUE(wait_for([&] { return thrown.load(); }));
            ++finished;
        });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "layer 0 failed");
    }
    // No thread is left behind: the other three had finished.
    EXPECT_EQ(finished.load(), 3);
}

TEST(RegistryParallel, FailureStopsALongQueueEarly) {
    // One job: deterministic. The failure at item 0 leaves 999 items unstarted.
    std::atomic<int> calls{0};
    EXPECT_THROW(for_each_parallel(1000, 1,
                                   [&](std::size_t) {
                                       ++calls;
                                       throw std::logic_error("stop");
                                   }),
                 std::logic_error);
    EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace kiln::registry
