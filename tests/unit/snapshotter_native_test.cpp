// The native (copying) snapshotter: no mounts, so it runs as a unit test.
#include "tests/unit/snapshotter_testing.h"

namespace kiln::snapshotter::testing {
namespace {

class SnapshotterNative : public SnapshotterScenarios {
  protected:
    std::string kind() const override { return "native"; }
};

KILN_SNAPSHOTTER_SCENARIOS(SnapshotterNative)

// upper() is computed on demand and changes with the tree.
TEST_F(SnapshotterNative, UpperIsComputedOnDemand) {
    snap_->apply("base", string_reader(base_layer()), "base.tar");
    auto a = snap_->prepare({"base"});
    EXPECT_TRUE(fs::is_empty(a->upper()));
    write(a->root() / "n", "1");
    EXPECT_EQ(read_all(a->upper() / "n"), "1");
    fs::remove(a->root() / "same");
    EXPECT_TRUE(is_whiteout(a->upper() / "same"));
    // The committed parent is never written through.
    write(a->root() / "bin/tool", "changed");
    EXPECT_EQ(read_all(snap_->path("base") / "bin/tool"), "#!tool");
}

// apply_layer's overlay mode on its own: whiteouts become overlay's forms, and a
// layer cannot plant overlay's own xattrs.
TEST(ApplyLayerOverlayForm, WhiteoutsBecomeDevicesAndOpaqueDirs) {
    if (!is_root())
        GTEST_SKIP() << "trusted.* xattrs need root";
    TempDir dir(fs::temp_directory_path(), "kiln-apply-ovl-");
    std::string tar = make_tar({
        {.path = ".wh.a"},
        {.path = "a/", .mode = AE_IFDIR | 0755},
        {.path = "a/x", .data = "x"},
        {.path = "b/", .mode = AE_IFDIR | 0755},
        {.path = "b/.wh.gone"},
        {.path = "b/.wh..wh..opq"},
        {.path = "b/y", .data = "y"},
        {.path = "c/.wh.z"},
        {.path = "d",
         .data = "d",
         .xattrs = {{"trusted.overlay.redirect", "/etc"}, {"user.keep", "1"}}},
        {.path = "e/", .mode = AE_IFDIR | 0755},
        {.path = "e/.wh.f"},
    });
    ApplyOptions opts;
    opts.overlay_whiteouts = true;
    ApplyStats st = apply_layer(string_reader(tar), dir.path(), "ovl.tar", opts);
    EXPECT_EQ(st.whiteouts, 5u);
    EXPECT_TRUE(is_opaque(dir.path() / "a"));
    EXPECT_EQ(read_all(dir.path() / "a/x"), "x");
    EXPECT_TRUE(is_opaque(dir.path() / "b"));
    EXPECT_FALSE(fs::exists(dir.path() / "b/gone"));
    EXPECT_EQ(read_all(dir.path() / "b/y"), "y");
    EXPECT_TRUE(is_whiteout(dir.path() / "c/z"));
    EXPECT_FALSE(is_opaque(dir.path() / "c"));
    EXPECT_TRUE(is_whiteout(dir.path() / "e/f"));
    EXPECT_FALSE(is_opaque(dir.path() / "e"));
    char v[16];
    EXPECT_LT(::lgetxattr((dir.path() / "d").c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
    EXPECT_EQ(::lgetxattr((dir.path() / "d").c_str(), "user.keep", v, sizeof v), 1);
}

// Each snapshot is an unrelated tree: its directory is placed as a top-level
// one (chattr +T on their parent), away from the trees a wiped store freed.
// Read back with lsattr, where the file system keeps the flag at all.
TEST_F(SnapshotterNative, SnapshotDirectoriesArePlacedAsTopLevelTrees) {
    const fs::path probe = root_ / "probe";
    fs::create_directory(probe);
    if (std::system(("chattr +T " + probe.string() + " 2>/dev/null").c_str()) != 0)
        GTEST_SKIP() << "this file system keeps no +T flag (" << probe << ")";
    const fs::path tmp = root_ / "snapshots" / kind() / "tmp";
    const fs::path out = root_ / "lsattr.txt";
    ASSERT_EQ(std::system(("lsattr -d " + tmp.string() + " > " + out.string()).c_str()), 0);
    std::ifstream in(out);
    std::string flags;
    in >> flags;
    EXPECT_NE(flags.find('T'), std::string::npos) << flags << " on " << tmp;
}

TEST_F(SnapshotterNative, UnknownKindRefused) {
    EXPECT_THROW(open_snapshotter(root_ / "snapshots", "zfs", root_ / "tmp"), Error);
}

}  // namespace
}  // namespace kiln::snapshotter::testing
