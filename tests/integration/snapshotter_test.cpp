// The overlayfs snapshotter on real mounts (root): the same scenarios as the
// native one, plus what only mounts have (option length, busy unmounts).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/snapshotter_testing.h"

namespace kiln::snapshotter::testing {
namespace {

class SnapshotterOverlay : public SnapshotterScenarios {
  protected:
    std::string kind() const override { return "overlayfs"; }
    void SetUp() override {
        if (!is_root())
            GTEST_SKIP() << "overlay mounts need root";
        TempDir probe(fs::temp_directory_path(), "kiln-probe-");
        if (!overlay_supported(probe.path()))
            GTEST_SKIP() << "overlayfs cannot be mounted here";
        SnapshotterScenarios::SetUp();
    }
    void TearDown() override {
        if (snap_)
            SnapshotterScenarios::TearDown();
    }
};

KILN_SNAPSHOTTER_SCENARIOS(SnapshotterOverlay)

TEST_F(SnapshotterOverlay, AutoPicksOverlay) {
    auto s = open_snapshotter(root_ / "auto", "auto", root_ / "tmp");
    EXPECT_EQ(s->kind(), "overlayfs");
}

TEST_F(SnapshotterOverlay, ActiveIsMountedAndUpperIsLive) {
    snap_->apply("base", string_reader(base_layer()), "base.tar");
    auto a = snap_->prepare({"base"});
    EXPECT_FALSE(mounts_under(dir_->path()).empty());
    fs::remove(a->root() / "same");
    EXPECT_TRUE(is_whiteout(a->upper() / "same"));
    // A view is read-only.
    auto v = snap_->view({"base"});
    EXPECT_FALSE(std::ofstream(v->root() / "new").is_open());
    snap_->commit(*a, "c");
    EXPECT_TRUE(is_whiteout(snap_->path("c") / "same"));
}

// Unmounting a volatile overlay does not syncfs the store's whole file system
// on the step's path (snapshotter.h); views have no upper to sync.
TEST_F(SnapshotterOverlay, WritableOverlaysAreVolatileAndViewsAreNot) {
    snap_->apply("base", string_reader(base_layer()), "base.tar");
    auto super_options_of = [](const fs::path& point) {
        std::ifstream in("/proc/self/mountinfo");
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream ls(line);
            std::string a, b, c, r, p;
            ls >> a >> b >> c >> r >> p;
            if (p == fs::weakly_canonical(point).string())
                return line.substr(line.find(" - "));
        }
        return std::string("not mounted");
    };
    auto a = snap_->prepare({"base"});
    EXPECT_NE(super_options_of(a->root()).find("volatile"), std::string::npos)
        << super_options_of(a->root());
    auto v = snap_->view({"base"});
    EXPECT_EQ(super_options_of(v->root()).find("volatile"), std::string::npos)
        << super_options_of(v->root());
    // A committed volatile snapshot mounts again as a lower.
    std::ofstream(a->root() / "new") << "x";
    snap_->commit(*a, "c");
    auto b = snap_->prepare({"base", "c"});
    EXPECT_TRUE(fs::exists(b->root() / "new"));
}

// Forks a child that holds an fd on `dir` (inherited, as a process spawned by
// another thread holds it until its exec) for `ms` milliseconds, then exits.
pid_t hold_briefly(const fs::path& dir, int ms) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);  // no O_CLOEXEC: the child keeps it
    if (fd < 0)
        return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::usleep(static_cast<useconds_t>(ms) * 1000);
        ::_exit(0);
    }
    ::close(fd);
    return pid;
}

// A step's mount is busy while a process spawned meanwhile by another step
// still holds its fds: the commit waits that out instead of failing the step.
TEST_F(SnapshotterOverlay, ACommitWaitsOutAProcessHoldingTheMountBriefly) {
    snap_->apply("base", string_reader(base_layer()), "base.tar");
    auto a = snap_->prepare({"base"});
    std::ofstream(a->root() / "new") << "x";
    pid_t holder = hold_briefly(a->root(), 300);
    ASSERT_GT(holder, 0);
    EXPECT_NO_THROW(snap_->commit(*a, "c"));
    ::waitpid(holder, nullptr, 0);
    EXPECT_TRUE(fs::exists(snap_->path("c") / "new"));
    EXPECT_TRUE(mounts_under(dir_->path()).empty());
}

// A process that stays inside is a real user: the commit fails naming the
// mount point, and the snapshot is not made.
TEST_F(SnapshotterOverlay, ACommitFailsNamingTheMountWhileAProcessStaysInside) {
    snap_->apply("base", string_reader(base_layer()), "base.tar");
    auto a = snap_->prepare({"base"});
    pid_t holder = hold_briefly(a->root(), 60000);
    ASSERT_GT(holder, 0);
    try {
        snap_->commit(*a, "c");
        ADD_FAILURE() << "committed a busy mount";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot unmount"), std::string::npos) << e.what();
    }
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
    EXPECT_FALSE(snap_->exists("c"));
}

// 150 lowers with absolute paths would be ~15 KB of options; short links keep it small.
TEST_F(SnapshotterOverlay, ManyLayersFitTheOptionLimit) {
    std::vector<std::string> keys;
    for (int i = 0; i < 150; ++i) {
        std::string k = "sha256:" + std::string(60, 'a') + std::to_string(1000 + i);
        snap_->apply(k, string_reader(make_tar({{.path = "f" + std::to_string(i), .data = "x"}})),
                     "layer" + std::to_string(i));
        keys.push_back(k);
    }
    auto a = snap_->prepare(keys);
    EXPECT_TRUE(fs::exists(a->root() / "f0"));
    EXPECT_TRUE(fs::exists(a->root() / "f149"));
    // Too many for one page even so: a clear error, nothing mounted.
    std::vector<std::string> lots(900, keys[0]);
    try {
        snap_->prepare(lots);
        ADD_FAILURE() << "900 layers mounted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("exceed the kernel's limit"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace kiln::snapshotter::testing
