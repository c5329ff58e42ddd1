// --explain-cache's one line per missed step (solver/explain.h).
#include <gtest/gtest.h>

#include "solver/explain.h"

namespace kiln::solver {
namespace {

using nlohmann::json;

CacheRecord made(const std::string& parent, json summary, const std::string& created = "t1") {
    CacheRecord r;
    r.parent = parent;
    r.summary = std::move(summary);
    r.created = created;
    return r;
}

json copy_of(json files) {
    return {{"instruction", "COPY . /src"}, {"stage", "build"}, {"files", std::move(files)}};
}

TEST(ExplainMiss, NoRecordIsSaidSo) {
    EXPECT_EQ(explain_miss({copy_of({}), "p", false}, {}), "no cache record for this instruction");
}

TEST(ExplainMiss, NamesEachChangedFileAndWhatChanged) {
    auto before = copy_of({{"a.c", "100644 sha256:aaa"},
                           {"b.sh", "100644 sha256:bbb"},
                           {"both", "100644 sha256:eee"},
                           {"gone", "100644 sha256:ccc"},
                           {"same", "100644 sha256:ddd"}});
    auto now = copy_of({{"a.c", "100644 sha256:AAA"},
                        {"b.sh", "100755 sha256:bbb"},
                        {"both", "100600 sha256:EEE"},
                        {"new", "100644 sha256:fff"},
                        {"same", "100644 sha256:ddd"}});
    EXPECT_EQ(explain_miss({now, "p", false}, {made("p", before)}),
              "context files changed: a.c (content), b.sh (mode 100644 -> 100755), both (mode "
              "100644 -> 100600, content), new (added), gone (removed)");
}

TEST(ExplainMiss, AMalformedRecordFromAnotherMachineIsNoMismatch) {
    json then = copy_of({{"a", 5}});
    then["files_depth"] = "deep";
    EXPECT_EQ(explain_miss({copy_of({{"a", "100644 sha256:1"}}), "p", false}, {made("p", then)}),
              "context files changed: a (added)");
}

TEST(ExplainMiss, ManyChangedFilesAreCounted) {
    json before = json::object(), now = json::object();
    for (int i = 0; i < 8; ++i)
        now["f" + std::to_string(i)] = "100644 sha256:x";
    EXPECT_EQ(explain_miss({copy_of(now), "p", false}, {made("p", copy_of(before))}),
              "context files changed: f0 (added), f1 (added), f2 (added), f3 (added), f4 "
              "(added) and 3 more");
}

TEST(ExplainMiss, NamesAChangedBuildArgWithOldAndNewValues) {
    json before = {{"instruction", "RUN make"}, {"stage", "s"}, {"env", {{"VERSION", "1"}}}};
    json now = {{"instruction", "RUN make"}, {"stage", "s"}, {"env", {{"VERSION", "2"}}}};
    EXPECT_EQ(explain_miss({now, "p", false}, {made("p", before)}),
              "build arg or env changed: VERSION \"1\" -> \"2\"");
}

TEST(ExplainMiss, AMissedParentIsTheReasonWhenTheFileSystemDiffers) {
    EXPECT_EQ(explain_miss({copy_of({}), "new-parent", true}, {made("old-parent", copy_of({}))}),
              "the step before it did not hit the cache");
}

TEST(ExplainMiss, AMovedBaseImageIsNamedWithBothDigests) {
    json before = {{"instruction", "RUN a"}, {"stage", "s"}, {"base", "sha256:old"}};
    json now = {{"instruction", "RUN a"}, {"stage", "s"}, {"base", "sha256:new"}};
    EXPECT_EQ(explain_miss({now, "p2", false}, {made("p1", before)}),
              "the base image changed: sha256:old -> sha256:new");
}

TEST(ExplainMiss, AChangedSourceStageIsNamed) {
    json before = {
        {"instruction", "COPY --from=b /x /x"}, {"stage", "s"}, {"stages", {{"b", "k1"}}}};
    json now = {{"instruction", "COPY --from=b /x /x"}, {"stage", "s"}, {"stages", {{"b", "k2"}}}};
    EXPECT_EQ(explain_miss({now, "p", false}, {made("p", before)}),
              "the stage it reads changed: b");
}

TEST(ExplainMiss, TheRecordOnTheSameFileSystemIsPreferredOverANewerOne) {
    auto on_same = made("p", copy_of({{"a", "100644 sha256:1"}}), "t1");
    auto newer = made("q", copy_of({{"b", "100644 sha256:1"}}), "t9");
    EXPECT_EQ(explain_miss({copy_of({{"a", "100644 sha256:2"}}), "p", false}, {newer, on_same}),
              "context files changed: a (content)");
}

// 40 files in four directories of ten.
json many_files(const std::string& changed = "") {
    json files = json::object();
    for (int d = 0; d < 4; ++d)
        for (int f = 0; f < 10; ++f) {
            std::string path = "src/d" + std::to_string(d) + "/f" + std::to_string(f);
            files[path] = "100644 sha256:" + std::string(path == changed ? "new" : "old");
        }
    files["top.txt"] = "100644 sha256:top";
    return files;
}

TEST(CompactSummary, ASmallSummaryTravelsAsItIs) {
    auto s = copy_of(many_files());
    EXPECT_EQ(compact_summary(s, 41), s);
}

TEST(CompactSummary, FilesRollUpAtTheDeepestDepthThatFits) {
    auto c = compact_summary(copy_of(many_files()), 10);
    EXPECT_EQ(c["files_depth"], 2);
    EXPECT_EQ(c["files"].size(), 5u);  // src/d0/ .. src/d3/ and top.txt
    EXPECT_TRUE(c["files"].contains("src/d2/"));
    EXPECT_EQ(c["files"]["top.txt"], "100644 sha256:top");
    EXPECT_EQ(compact_summary(copy_of(many_files()), 3)["files_depth"], 1);
}

TEST(CompactSummary, ExplainNamesTheRolledUpDirectoryThatChanged) {
    auto then = compact_summary(copy_of(many_files()), 10);
    EXPECT_EQ(explain_miss({copy_of(many_files("src/d2/f7")), "p", false}, {made("p", then)}),
              "context files changed: src/d2/ (something below changed)");
}

TEST(CompactSummary, ExplainComparesTwoRolledUpSummariesDirectoryByDirectory) {
    // As a build compares them: its own summary is compacted too.
    auto then = compact_summary(copy_of(many_files()), 10);
    auto now = compact_summary(copy_of(many_files("src/d2/f7")), 10);
    EXPECT_EQ(explain_miss({now, "p", false}, {made("p", then)}),
              "context files changed: src/d2/ (something below changed)");
}

TEST(SameInstruction, NeedsTheSameTextInTheSameStage) {
    EXPECT_TRUE(same_instruction(copy_of({}), copy_of({{"x", "y"}})));
    json other = copy_of({});
    other["stage"] = "final";
    EXPECT_FALSE(same_instruction(copy_of({}), other));
}

}  // namespace
}  // namespace kiln::solver
