// Reaper: scratch trees removed off the build's path, and always before the
// process ends.
#include "snapshotter/reaper.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "content/temp_dir.h"

namespace kiln::snapshotter {
namespace {

namespace fs = std::filesystem;

// A small tree: two levels of directories, files, a symlink out of it.
fs::path make_tree(const fs::path& at, const std::string& name) {
    const fs::path top = at / name;
    fs::create_directories(top / "a" / "b");
    std::ofstream(top / "a" / "f") << "f";
    std::ofstream(top / "a" / "b" / "g") << "g";
    fs::create_symlink("/etc", top / "link");
    return top;
}

TEST(Reaper, NothingHandedOverWaitReturns) {
    Reaper r;
    r.wait();
}

TEST(Reaper, WaitReturnsOnceEveryTreeHandedOverIsGone) {
    TempDir dir(fs::temp_directory_path(), "kiln-reaper-");
    Reaper r;
    for (int i = 0; i < 5; ++i)
        r.remove(make_tree(dir.path(), "t" + std::to_string(i)));
    r.wait();
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Reaper, DestroyingItRemovesWhatWasHandedOver) {
    TempDir dir(fs::temp_directory_path(), "kiln-reaper-");
    {
        Reaper r;
        r.remove(make_tree(dir.path(), "one"));
        r.remove(make_tree(dir.path(), "two"));
    }
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Reaper, ALinkInATreeIsRemovedNotFollowed) {
    TempDir dir(fs::temp_directory_path(), "kiln-reaper-");
    const fs::path outside = dir.path() / "outside";
    fs::create_directory(outside);
    std::ofstream(outside / "keep") << "keep";
    const fs::path tree = dir.path() / "tree";
    fs::create_directory(tree);
    fs::create_directory_symlink(outside, tree / "to-outside");
    {
        Reaper r;
        r.remove(tree);
    }
    EXPECT_FALSE(fs::exists(tree));
    EXPECT_TRUE(fs::exists(outside / "keep"));
}

TEST(Reaper, AMissingTreeIsNoError) {
    TempDir dir(fs::temp_directory_path(), "kiln-reaper-");
    Reaper r;
    r.remove(dir.path() / "never-made");
    r.remove(make_tree(dir.path(), "after"));
    r.wait();
    EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace kiln::snapshotter
