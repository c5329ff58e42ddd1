// The recovery pass (snapshotter/recovery.h) in-process on a real state root:
// what a dead owner left is reclaimed, the mounts on it are detached without
// anything being removed through them, and a live owner's work is untouched.
// Needs root (mounts); skipped otherwise.
#include "snapshotter/recovery.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "content/owner.h"
#include "content/state_root.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::test;

namespace {

bool mounted(const fs::path& p) {
    std::string want = " " + fs::weakly_canonical(p).string() + " ";
    return slurp("/proc/self/mountinfo").find(want) != std::string::npos;
}

class Recovery : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "mounts need root";
    }
    void TearDown() override {
        // A failed test must not leave mounts on the scratch dir.
        for (const fs::path& p : mounts_made)
            ::umount2(p.c_str(), MNT_DETACH);
    }

    // A mount the test made, to be detached by the recovery.
    void mount_overlay(const fs::path& lower, const fs::path& dir) {
        for (const char* d : {"upper", "work", "merged"})
            fs::create_directories(dir / d);
        std::string opts = "lowerdir=" + lower.string() + ",upperdir=" + (dir / "upper").string() +
                           ",workdir=" + (dir / "work").string();
        ASSERT_EQ(::mount("overlay", (dir / "merged").c_str(), "overlay", 0, opts.c_str()), 0)
            << std::strerror(errno);
        mounts_made.push_back(dir / "merged");
    }
    void bind(const fs::path& from, const fs::path& to) {
        ASSERT_EQ(::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr), 0)
            << std::strerror(errno);
        mounts_made.push_back(to);
    }

    Scratch dir;
    std::vector<fs::path> mounts_made;
};

TEST_F(Recovery, ADeadOwnersLeftoversGoAndAHostDirectoryUnderTheirMountsStays) {
    content::StateRoot root(dir / "root");
    const fs::path host = dir / "host";  // outside the root: must survive
    write(host / "keep", "host file");
    fs::create_directories(host / "sub");
    write(host / "sub" / "also", "host file");

    // A dead owner: its owner file exists and nobody holds its lock.
    const std::string dead = "4194300.0badf00d";
    write(root.locks() / "owners" / dead, "");
    write(root.tmp() / (".tmp-" + dead + "-Abc123"), "partial blob");
    write(root.path() / "cache" / "steps" / (".tmp-" + dead + "-Abc124"), "partial record");
    const fs::path active = root.snapshots() / "overlayfs" / "tmp" / ("active-" + dead + "-Abc125");
    mount_overlay(host, active);
    write(active / "merged" / "written-by-the-step", "x");
    const fs::path build = root.tmp() / ("build-" + dead + "-Abc126");
    fs::create_directories(build / "network" / "bound");
    bind(host / "sub", build / "network" / "bound");
    ASSERT_FALSE(HasFailure());

    // A live owner (this test holds its lock) and a name without an owner.
    const std::string live = "4194301.0000beef";
    write(root.locks() / "owners" / live, "");
    int live_fd = ::open((root.locks() / "owners" / live).c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(live_fd, 0);
    ASSERT_EQ(::flock(live_fd, LOCK_EX), 0);
    const fs::path live_tmp = root.tmp() / (".tmp-" + live + "-Abc127");
    const fs::path live_active =
        root.snapshots() / "overlayfs" / "tmp" / ("active-" + live + "-Abc128");
    write(live_tmp, "being written");
    mount_overlay(host, live_active);
    const fs::path old_style = root.tmp() / ".tmp-Abc129";
    write(old_style, "made before owners");

    auto done = snapshotter::recover_state_root(root.path());

    EXPECT_EQ(done.owners, 1u);
    EXPECT_EQ(done.entries, 4u);
    EXPECT_EQ(done.mounts, 2u);
    EXPECT_FALSE(fs::exists(root.tmp() / (".tmp-" + dead + "-Abc123")));
    EXPECT_FALSE(fs::exists(root.path() / "cache" / "steps" / (".tmp-" + dead + "-Abc124")));
    EXPECT_FALSE(fs::exists(active));
    EXPECT_FALSE(fs::exists(build));
    EXPECT_FALSE(mounted(active / "merged"));
    EXPECT_FALSE(fs::exists(root.locks() / "owners" / dead));
    // Nothing was removed through a mount.
    EXPECT_EQ(slurp(host / "keep"), "host file");
    EXPECT_EQ(slurp(host / "sub" / "also"), "host file");
    EXPECT_FALSE(fs::exists(host / "written-by-the-step"));
    // The live owner's work and the unowned name are untouched.
    EXPECT_TRUE(fs::exists(live_tmp));
    EXPECT_TRUE(mounted(live_active / "merged"));
    EXPECT_TRUE(fs::exists(root.locks() / "owners" / live));
    EXPECT_TRUE(fs::exists(old_style));

    // Once the live owner dies, the next pass reclaims it too.
    ::close(live_fd);
    done = snapshotter::recover_state_root(root.path());
    EXPECT_EQ(done.owners, 1u);
    EXPECT_FALSE(fs::exists(live_tmp));
    EXPECT_FALSE(fs::exists(live_active));
    EXPECT_FALSE(mounted(live_active / "merged"));
    EXPECT_EQ(slurp(host / "keep"), "host file");
}

TEST_F(Recovery, ThisProcessIsNeverItsOwnDeadOwner) {
    content::StateRoot root(dir / "root");
    ASSERT_TRUE(fs::exists(root.locks() / "owners" / content::process_token()));
    const fs::path mine = root.tmp() / (content::temp_prefix(".tmp-") + "Abc123");
    write(mine, "mine");
    auto done = snapshotter::recover_state_root(root.path());
    EXPECT_EQ(done.owners, 0u);
    EXPECT_TRUE(fs::exists(mine));
}

TEST_F(Recovery, NothingToDoIsNothingDone) {
    content::StateRoot root(dir / "root");
    auto done = snapshotter::recover_state_root(root.path());
    EXPECT_EQ(done.owners + done.entries + done.mounts + done.containers, 0u);
}

}  // namespace
