// base/thread_pool.h: a fixed set of workers, tasks in submission order, exceptions carried
// to the future, destruction finishing every task. Tasks that must overlap meet at a
// rendezvous with a generous timeout, so a broken pool fails instead of hanging.
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kiln {
namespace {

using namespace std::chrono_literals;
constexpr auto kTimeout = 10s;

// Blocks each arriving thread until `n` have arrived (or the timeout); returns whether all did.
class Rendezvous {
  public:
    explicit Rendezvous(int n) : n_(n) {}
    bool arrive() {
        std::unique_lock lock(mu_);
        ++arrived_;
        cv_.notify_all();
        return cv_.wait_for(lock, kTimeout, [&] { return arrived_ >= n_; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    int n_;
    int arrived_ = 0;
};

TEST(ThreadPool, RunsEveryTaskAndFuturesReportCompletion) {
    std::atomic<int> sum{0};
    std::vector<std::future<void>> done;
    {
        ThreadPool pool(3);
        EXPECT_EQ(pool.size(), 3u);
        for (int i = 1; i <= 100; ++i)
            done.push_back(pool.submit([&, i] { sum += i; }));
        for (auto& f : done)
            f.get();
        EXPECT_EQ(sum.load(), 5050);
    }
}

TEST(ThreadPool, ZeroThreadsMeansOne) {
    ThreadPool pool(0);
    EXPECT_EQ(pool.size(), 1u);
    bool ran = false;
    pool.submit([&] { ran = true; }).get();
    EXPECT_TRUE(ran);
}

TEST(ThreadPool, ExceptionsReachTheFuture) {
    ThreadPool pool(2);
    auto bad = pool.submit([] { throw std::runtime_error("boom"); });
    auto good = pool.submit([] {});
    EXPECT_NO_THROW(good.get());
    try {
        bad.get();
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    // The worker that ran the failing task still serves.
    EXPECT_NO_THROW(pool.submit([] {}).get());
}

TEST(ThreadPool, OneWorkerRunsTasksInSubmissionOrder) {
    std::vector<int> order;
    {
        ThreadPool pool(1);
        for (int i = 0; i < 20; ++i)
            pool.submit([&, i] { order.push_back(i); });
    }
    std::vector<int> want(20);
    for (int i = 0; i < 20; ++i)
        want[i] = i;
    EXPECT_EQ(order, want);
}

TEST(ThreadPool, WorkersRunTasksAtOnceButNeverMoreThanSize) {
    constexpr int kThreads = 3;
    Rendezvous all(kThreads);
    std::atomic<int> running{0}, peak{0}, met{0};
    std::set<std::thread::id> ids;
    std::mutex mu;
    {
        ThreadPool pool(kThreads);
        for (int i = 0; i < kThreads; ++i) {
            pool.submit([&] {
                int now = ++running;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                {
                    std::lock_guard lock(mu);
                    ids.insert(std::this_thread::get_id());
                }
                if (all.arrive())
                    ++met;
                --running;
            });
        }
        for (int i = 0; i < 30; ++i) {
            pool.submit([&] {
                int now = ++running;
                int p = peak.load();
                while (now > p && !peak.compare_exchange_weak(p, now)) {
                }
                std::this_thread::sleep_for(1ms);
                --running;
            });
        }
    }
    EXPECT_EQ(met.load(), kThreads);  // the first three overlapped
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads));
    EXPECT_LE(peak.load(), kThreads);
}

TEST(ThreadPool, DestructionFinishesQueuedTasks) {
    std::atomic<int> ran{0};
    {
        ThreadPool pool(2);
        for (int i = 0; i < 50; ++i)
            pool.submit([&] {
                std::this_thread::sleep_for(100us);
                ++ran;
            });
    }
    EXPECT_EQ(ran.load(), 50);
}

TEST(ParallelFor, EveryItemOnce) {
    std::vector<std::atomic<int>> runs(64);
    parallel_for(runs.size(), 4, [&](std::size_t i) { ++runs[i]; });
    for (auto& r : runs)
        EXPECT_EQ(r.load(), 1);
}

TEST(ParallelFor, OneThreadRunsOnTheCallerInOrder) {
    std::vector<std::size_t> order;
    const auto caller = std::this_thread::get_id();
    parallel_for(5, 1, [&](std::size_t i) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        order.push_back(i);
    });
    EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(ParallelFor, FirstExceptionRethrownAfterRunningItemsFinish) {
    Rendezvous both(2);
    std::atomic<bool> slow_finished{false};
    std::atomic<int> started{0};
    try {
        parallel_for(100, 2, [&](std::size_t i) {
            ++started;
            if (i == 0) {
                both.arrive();
                throw std::runtime_error("item 0");
            }
            if (i == 1) {
                both.arrive();
                std::this_thread::sleep_for(50ms);
                slow_finished = true;
            }
        });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "item 0");
    }
    EXPECT_TRUE(slow_finished.load());
    // Both workers held items 0 and 1 until the failure: nothing queued behind it started.
    EXPECT_EQ(started.load(), 2);
}

}  // namespace
}  // namespace kiln
