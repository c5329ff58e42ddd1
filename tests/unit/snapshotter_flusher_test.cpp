// Flusher: published snapshots synced off the build's path, and always
// before the process ends.
#include "snapshotter/flusher.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/error.h"
#include "content/temp_dir.h"

namespace kiln::snapshotter {
namespace {

namespace fs = std::filesystem;

TEST(Flusher, NothingRequestedNothingSynced) {
    TempDir dir(fs::temp_directory_path(), "kiln-flush-");
    Flusher f(dir.path());
    f.wait();  // returns at once
    EXPECT_EQ(f.syncs(), 0u);
}

TEST(Flusher, WaitReturnsOnceARequestIsServed) {
    TempDir dir(fs::temp_directory_path(), "kiln-flush-");
    Flusher f(dir.path());
    f.request();
    f.wait();
    EXPECT_GE(f.syncs(), 1u);
}

TEST(Flusher, ARequestAfterASyncGetsASyncOfItsOwn) {
    TempDir dir(fs::temp_directory_path(), "kiln-flush-");
    Flusher f(dir.path());
    for (int i = 0; i < 50; ++i)
        f.request();
    f.wait();
    // What was published after that sync began is not covered by it.
    const std::uint64_t before = f.syncs();
    f.request();
    f.wait();
    EXPECT_EQ(f.syncs(), before + 1);
}

TEST(Flusher, MissingDirectoryIsAnError) {
    TempDir dir(fs::temp_directory_path(), "kiln-flush-");
    EXPECT_THROW(Flusher(dir.path() / "nope"), Error);
}

}  // namespace
}  // namespace kiln::snapshotter
