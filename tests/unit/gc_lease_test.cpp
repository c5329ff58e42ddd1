// gc/lease.h: commands share a root; a collection has it alone.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "content/state_root.h"
#include "content/temp_dir.h"
#include "gc/lease.h"

namespace kiln::gc {
namespace {

using namespace std::chrono_literals;

class GcLease : public ::testing::Test {
  protected:
    TempDir tmp_{std::filesystem::temp_directory_path(), "kiln-lease-"};
    content::StateRoot root_{tmp_.path() / "root"};
};

TEST_F(GcLease, CommandsHoldItTogether) {
    Lease a(root_);
    Lease b(root_);  // would block forever if shared leases excluded each other
    SUCCEED();
}

TEST_F(GcLease, TheCollectionAfterABuildSkipsWhileAnotherCommandRuns) {
    Lease build(root_);
    auto other = std::make_unique<Lease>(root_);
    EXPECT_FALSE(build.try_exclusive());
    other.reset();
    Lease next_build(root_);  // after a failed attempt the first holds nothing
    EXPECT_TRUE(next_build.try_exclusive());
}

TEST_F(GcLease, ATryAloneSucceeds) {
    Lease build(root_);
    EXPECT_TRUE(build.try_exclusive());
}

TEST_F(GcLease, APruneWaitsForRunningCommandsAndCommandsWaitForIt) {
    auto build = std::make_unique<Lease>(root_);
    static std::atomic<int> waited{0};
    waited = 0;
    std::atomic<bool> pruning{false}, pruned{false};
    std::thread prune([&] {
        Lease p(root_, Lease::Mode::exclusive, [] { ++waited; });
        pruning = true;
        std::this_thread::sleep_for(100ms);
        pruned = true;  // before `p` lets go
    });
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(pruning) << "the prune ran while a command held the root";
    build.reset();
    while (!pruning)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(waited, 1) << "a prune that waits says so once";
    Lease after(root_);
    EXPECT_TRUE(pruned) << "a command started while the prune ran did not wait for it";
    prune.join();
}

TEST_F(GcLease, FileTimeIsNoEarlierThanAFileTouchedBefore) {
    Lease l(root_);
    auto a = l.file_time_now();
    auto b = l.file_time_now();
    EXPECT_LE(a, b);
    EXPECT_GT(a, 1600000000LL * 1000000000);
}

}  // namespace
}  // namespace kiln::gc
