// COPY, ADD and WORKDIR through whole builds (solve()): which files land in
// the image, from where, and which steps make layers. Copy semantics in
// detail are solver_copy_test.cpp's; this checks the ops as the solver runs them.
#include "tests/unit/solver_build_testing.h"

#include <sys/stat.h>

namespace kiln::solver::testing {
namespace {

using kiln::snapshotter::testing::tar_entries;

class SolverBuildCopy : public SolverBuildFixture {
  protected:
    void SetUp() override { add_base_image(); }
};

TEST_F(SolverBuildCopy, CopiesFilesAndDirectoryContents) {
    context_file("a.txt", "a\n");
    context_file("dir/b.txt", "b\n");
    context_file("dir/sub/c.txt", "c\n");
    auto image = build("FROM base\nCOPY a.txt dir /dst/\n");
    EXPECT_EQ(file_in(image, "/dst/a.txt"), "a\n");
    EXPECT_EQ(file_in(image, "/dst/b.txt"), "b\n");
    EXPECT_EQ(file_in(image, "/dst/sub/c.txt"), "c\n");
    EXPECT_FALSE(fs::exists(tree(image) / "dst/dir"));
}

TEST_F(SolverBuildCopy, DockerignoredFilesAreLeftOut) {
    context_file("keep.txt", "keep");
    context_file("debug.log", "noise");
    policy_.ignore_patterns = {"*.log"};
    auto image = build("FROM scratch\nCOPY . /app/\n");
    EXPECT_EQ(file_in(image, "/app/keep.txt"), "keep");
    EXPECT_FALSE(fs::exists(tree(image) / "app/debug.log"));
}

TEST_F(SolverBuildCopy, CopyFromAnImageInTheStore) {
    auto image = build("FROM scratch\nCOPY --from=base /base.txt /copied.txt\n");
    EXPECT_EQ(file_in(image, "/copied.txt"), "from the base\n");
    EXPECT_EQ(layer_count(image), 1u);
}

TEST_F(SolverBuildCopy, CopyFromAStageByIndex) {
    exec_.on("gen", {.writes = {{"/gen/out.txt", "generated"}}});
    auto image = build("FROM base\nRUN gen\nFROM scratch\nCOPY --from=0 /gen /\n");
    EXPECT_EQ(file_in(image, "/out.txt"), "generated");
}

TEST_F(SolverBuildCopy, CopyLinkBuildsTheLayerOnItsOwn) {
    context_file("a.txt", "a");
    auto image = build("FROM base\nCOPY --link a.txt /a.txt\n");
    EXPECT_EQ(file_in(image, "/a.txt"), "a");
    EXPECT_EQ(file_in(image, "/base.txt"), "from the base\n");
    // The layer holds only the copied file, not a diff against the base.
    auto entries = tar_entries(root_.blobs().path(image.steps.back().stored_layer->digest));
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].path, "a.txt");
}

TEST_F(SolverBuildCopy, ChownSetsTheOwnerInTheLayer) {
    if (!is_root())
        GTEST_SKIP() << "needs root to chown";
    context_file("a.txt", "a");
    auto image = build("FROM base\nCOPY --chown=app:app a.txt /a.txt\n");
    struct stat st {};
    ASSERT_EQ(::lstat((tree(image) / "a.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1000u);
}

TEST_F(SolverBuildCopy, ChmodSetsTheMode) {
    context_file("run.sh", "#!/bin/sh\n");
    auto image = build("FROM scratch\nCOPY --chmod=750 run.sh /run.sh\n");
    struct stat st {};
    ASSERT_EQ(::lstat((tree(image) / "run.sh").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(SolverBuildCopy, AddExtractsALocalTar) {
    context_file("bundle.tar", make_tar({{.path = "pkg/", .mode = AE_IFDIR | 0755},
                                         {.path = "pkg/inner.txt", .data = "inside\n"}}));
    auto image = build("FROM base\nADD bundle.tar /opt/\n");
    EXPECT_EQ(file_in(image, "/opt/pkg/inner.txt"), "inside\n");
    EXPECT_FALSE(fs::exists(tree(image) / "opt/bundle.tar"));
}

TEST_F(SolverBuildCopy, CopyDoesNotExtractATar) {
    context_file("bundle.tar", make_tar({{.path = "inner.txt", .data = "inside\n"}}));
    auto image = build("FROM base\nCOPY bundle.tar /opt/\n");
    EXPECT_TRUE(fs::is_regular_file(tree(image) / "opt/bundle.tar"));
    EXPECT_FALSE(fs::exists(tree(image) / "opt/inner.txt"));
}

TEST_F(SolverBuildCopy, AddOfAPlainFileCopiesIt) {
    context_file("notes.txt", "plain");
    auto image = build("FROM scratch\nADD notes.txt /n.txt\n");
    EXPECT_EQ(file_in(image, "/n.txt"), "plain");
}

TEST_F(SolverBuildCopy, WorkdirOfAnExistingDirectoryMakesNoLayer) {
    auto image = build("FROM base\nWORKDIR /etc\n");
    EXPECT_EQ(layer_count(image), 1u);
    EXPECT_TRUE(image.steps.back().history.empty_layer);
}

TEST_F(SolverBuildCopy, WorkdirMakesMissingParents) {
    auto image = build("FROM base\nWORKDIR /a/b/c\n");
    EXPECT_TRUE(fs::is_directory(tree(image) / "a/b/c"));
    EXPECT_EQ(layer_count(image), 2u);
}

TEST_F(SolverBuildCopy, CopyIntoTheWorkdirUsesItForRelativeDestinations) {
    context_file("a.txt", "a");
    auto image = build("FROM base\nWORKDIR /app\nCOPY a.txt .\n");
    EXPECT_EQ(file_in(image, "/app/a.txt"), "a");
}

}  // namespace
}  // namespace kiln::solver::testing
