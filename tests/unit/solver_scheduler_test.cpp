// solver/scheduler.h: run_jobs over a DAG on a bounded pool. No test depends on timing: jobs
// that must overlap meet at a rendezvous that gives up after a generous timeout, so a broken
// scheduler fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "solver/scheduler.h"

namespace kiln::solver {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 10s;

// A one-shot gate: wait() blocks until open() or the timeout; returns whether it was opened.
class Gate {
  public:
    void open() {
        {
            std::lock_guard lock(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }
    bool wait() {
        std::unique_lock lock(mu_);
        return cv_.wait_for(lock, kTimeout, [&] { return open_; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Waits (polling, bounded) until the flag is set; returns whether it was.
bool wait_for_cancel(const CancelFlag& cancel) {
    auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (!cancel.load()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

Job make_job(std::string name, std::vector<size_t> deps,
             std::function<void(const CancelFlag&)> run) {
    Job j;
    j.name = std::move(name);
    j.deps = std::move(deps);
    j.run = std::move(run);
    return j;
}

TEST(Scheduler, NoJobsReturns) {
    std::vector<Job> jobs;
    EXPECT_NO_THROW(run_jobs(jobs, 4));
}

TEST(Scheduler, RunsEveryJobOnce) {
    std::atomic<int> counts[5] = {};
    std::vector<Job> jobs;
    for (size_t i = 0; i < 5; ++i) {
        jobs.push_back(
            make_job("j" + std::to_string(i), {}, [&, i](const CancelFlag&) { ++counts[i]; }));
    }
    run_jobs(jobs, 3);
    for (auto& c : counts)
        EXPECT_EQ(c.load(), 1);
}

TEST(Scheduler, ZeroWorkersStillRuns) {
    bool ran = false;
    std::vector<Job> jobs;
    jobs.push_back(make_job("only", {}, [&](const CancelFlag&) { ran = true; }));
    run_jobs(jobs, 0);
    EXPECT_TRUE(ran);
}

TEST(Scheduler, DependenciesFinishBeforeDependentStarts) {
    // Diamond plus a tail: 0 → {1, 2} → 3 → 4, and 4 also needs 0.
    std::vector<std::vector<size_t>> deps = {{}, {0}, {0}, {1, 2}, {3, 0}};
    std::mutex mu;
    std::set<size_t> done;
    std::vector<std::string> violations;
    std::vector<Job> jobs;
    for (size_t i = 0; i < deps.size(); ++i) {
        jobs.push_back(make_job("j" + std::to_string(i), deps[i], [&, i](const CancelFlag&) {
            {
                std::lock_guard lock(mu);
                for (size_t d : deps[i]) {
                    if (!done.count(d)) {
                        violations.push_back("job " + std::to_string(i) + " started before " +
                                             std::to_string(d) + " finished");
                    }
                }
            }
            std::this_thread::yield();
            std::lock_guard lock(mu);
            done.insert(i);
        }));
    }
    run_jobs(jobs, 4);
    EXPECT_TRUE(violations.empty()) << violations.front();
    EXPECT_EQ(done.size(), deps.size());
}

TEST(Scheduler, IndependentJobsOverlap) {
    // Each job announces itself and then waits for the other: this only completes when both
    // run at the same time. A timeout records the failure instead of hanging.
    Gate a_started, b_started;
    std::atomic<bool> a_saw_b{false}, b_saw_a{false};
    std::vector<Job> jobs;
    jobs.push_back(make_job("a", {}, [&](const CancelFlag&) {
        a_started.open();
        a_saw_b = b_started.wait();
    }));
    jobs.push_back(make_job("b", {}, [&](const CancelFlag&) {
        b_started.open();
        b_saw_a = a_started.wait();
    }));
    run_jobs(jobs, 2);
    EXPECT_TRUE(a_saw_b.load());
    EXPECT_TRUE(b_saw_a.load());
}

TEST(Scheduler, NeverMoreThanWorkersAtOnce) {
    std::atomic<int> running{0}, peak{0};
    std::vector<Job> jobs;
    for (int i = 0; i < 8; ++i) {
        jobs.push_back(make_job("j" + std::to_string(i), {}, [&](const CancelFlag&) {
            int now = ++running;
            int seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(2ms);
            --running;
        }));
    }
    run_jobs(jobs, 2);
    EXPECT_LE(peak.load(), 2);
    EXPECT_GE(peak.load(), 1);
}

TEST(Scheduler, ExceptionIsRethrown) {
    std::vector<Job> jobs;
    jobs.push_back(
        make_job("bad", {}, [](const CancelFlag&) { throw std::runtime_error("boom"); }));
    try {
        run_jobs(jobs, 2);
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
}

TEST(Scheduler, DependentsOfFailedJobDoNotStart) {
    std::atomic<bool> dependent_ran{false}, grandchild_ran{false};
    std::vector<Job> jobs;
    jobs.push_back(
        make_job("bad", {}, [](const CancelFlag&) { throw std::runtime_error("boom"); }));
    jobs.push_back(make_job("child", {0}, [&](const CancelFlag&) { dependent_ran = true; }));
    jobs.push_back(make_job("grandchild", {1}, [&](const CancelFlag&) { grandchild_ran = true; }));
    EXPECT_THROW(run_jobs(jobs, 1), std::runtime_error);
    EXPECT_FALSE(dependent_ran.load());
    EXPECT_FALSE(grandchild_ran.load());
}

TEST(Scheduler, FirstExceptionWinsAndLaterJobsDoNotStart) {
    // "first" throws while "second" is running; "second" throws only after it saw the cancel
    // flag, so "first" is unambiguously the first error. Jobs depending on either never start.
    Gate second_started;
    std::atomic<bool> second_saw_cancel{false}, after_first{false}, after_second{false};
    std::vector<Job> jobs;
    jobs.push_back(make_job("first", {}, [&](const CancelFlag&) {
        second_started.wait();
        throw std::runtime_error("first");
    }));
    jobs.push_back(make_job("second", {}, [&](const CancelFlag& cancel) {
        second_started.open();
        second_saw_cancel = wait_for_cancel(cancel);
        throw std::runtime_error("second");
    }));
    jobs.push_back(make_job("after-first", {0}, [&](const CancelFlag&) { after_first = true; }));
    jobs.push_back(make_job("after-second", {1}, [&](const CancelFlag&) { after_second = true; }));
    try {
        run_jobs(jobs, 2);
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_TRUE(second_saw_cancel.load());
    EXPECT_FALSE(after_first.load());
    EXPECT_FALSE(after_second.load());
}

TEST(Scheduler, CancelFlagReachesRunningJobs) {
    Gate watcher_started;
    std::atomic<bool> cancel_at_start{true}, saw_cancel{false};
    std::vector<Job> jobs;
    jobs.push_back(make_job("watcher", {}, [&](const CancelFlag& cancel) {
        cancel_at_start = cancel.load();
        watcher_started.open();
        saw_cancel = wait_for_cancel(cancel);
    }));
    jobs.push_back(make_job("failer", {}, [&](const CancelFlag&) {
        watcher_started.wait();
        throw std::runtime_error("stop");
    }));
    EXPECT_THROW(run_jobs(jobs, 2), std::runtime_error);
    EXPECT_FALSE(cancel_at_start.load());
    EXPECT_TRUE(saw_cancel.load());
}

TEST(Scheduler, RunJobsWaitsForRunningJobsBeforeRethrowing) {
    Gate slow_started;
    std::atomic<bool> slow_finished{false};
    std::vector<Job> jobs;
    jobs.push_back(make_job("slow", {}, [&](const CancelFlag& cancel) {
        slow_started.open();
        wait_for_cancel(cancel);
        std::this_thread::sleep_for(5ms);
        slow_finished = true;
    }));
    jobs.push_back(make_job("failer", {}, [&](const CancelFlag&) {
        slow_started.wait();
        throw std::runtime_error("stop");
    }));
    EXPECT_THROW(run_jobs(jobs, 2), std::runtime_error);
    EXPECT_TRUE(slow_finished.load());
}

TEST(Scheduler, DependencyOnLaterJobIsLogicError) {
    bool ran = false;
    std::vector<Job> jobs;
    jobs.push_back(make_job("a", {1}, [&](const CancelFlag&) { ran = true; }));
    jobs.push_back(make_job("b", {}, [&](const CancelFlag&) { ran = true; }));
    EXPECT_THROW(run_jobs(jobs, 2), std::logic_error);
    EXPECT_FALSE(ran);
}

TEST(Scheduler, SelfDependencyIsLogicError) {
    std::vector<Job> jobs;
    jobs.push_back(make_job("a", {0}, [](const CancelFlag&) {}));
    EXPECT_THROW(run_jobs(jobs, 1), std::logic_error);
}

TEST(Scheduler, OutOfRangeDependencyIsLogicError) {
    std::vector<Job> jobs;
    jobs.push_back(make_job("a", {}, [](const CancelFlag&) {}));
    jobs.push_back(make_job("b", {7}, [](const CancelFlag&) {}));
    EXPECT_THROW(run_jobs(jobs, 1), std::logic_error);
}

}  // namespace
}  // namespace kiln::solver
