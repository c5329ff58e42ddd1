// A context shared by the solves of one build (solver/build_context.h,
// `shared`): the platforms of a multi-platform build read its files once, as
// BuildKit transfers a context once. Each StatCache below is a fresh one, so
// its reads() counts exactly the files that solve read itself.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "content/temp_dir.h"
#include "solver/build_context.h"
#include "solver/stat_cache.h"

namespace kiln::solver {
namespace {

namespace fs = std::filesystem;

class SharedContext : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(ctx / "src");
        write(ctx / "src/a.c", "int a;");
        write(ctx / "src/b.c", "int b;");
        write(ctx / "README", "hello");
    }
    static void write(const fs::path& p, const std::string& text) {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    }
    StatCache fresh_stats(const std::string& name) { return StatCache(tmp.path() / name); }

    TempDir tmp{fs::temp_directory_path(), "kiln-shared-context-test-"};
    fs::path ctx = tmp.path() / "ctx";
};

TEST_F(SharedContext, SecondSolveReadsNoFile) {
    BuildContext context(ctx, {}, /*shared=*/true);
    StatCache first = fresh_stats("first"), second = fresh_stats("second");
    auto a = context.sources_digest({"src"}, first);
    auto b = context.sources_digest({"src"}, second);
    EXPECT_EQ(a, b);
    EXPECT_EQ(first.reads(), 2u);
    EXPECT_EQ(second.reads(), 0u);
}

TEST_F(SharedContext, UnsharedContextReadsAgain) {
    BuildContext context(ctx, {});
    StatCache first = fresh_stats("first"), second = fresh_stats("second");
    EXPECT_EQ(context.sources_digest({"src"}, first), context.sources_digest({"src"}, second));
    EXPECT_EQ(second.reads(), 2u);
}

// The build sees the context as it was when first read, for every platform.
TEST_F(SharedContext, AFileChangedDuringTheBuildIsNotSeenAgain) {
    BuildContext context(ctx, {}, true);
    StatCache stats = fresh_stats("stats");
    auto before = context.sources_digest({"src"}, stats);
    write(ctx / "src/a.c", "int a = 1;");
    EXPECT_EQ(context.sources_digest({"src"}, stats), before);
    EXPECT_NE(BuildContext(ctx, {}).sources_digest({"src"}, stats), before);
}

TEST_F(SharedContext, OtherSourcesOrExcludesAreOtherQuestions) {
    BuildContext context(ctx, {}, true);
    StatCache stats = fresh_stats("stats");
    auto all = context.sources_digest({"src"}, stats);
    EXPECT_NE(context.sources_digest({"src"}, stats, {"b.c"}), all);
    EXPECT_NE(context.sources_digest({"src", "README"}, stats), all);
    EXPECT_NE(context.sources_digest({"README"}, stats), all);
}

TEST_F(SharedContext, LaterAskerGetsTheFilesSummaryToo) {
    BuildContext context(ctx, {}, true);
    StatCache stats = fresh_stats("stats");
    std::map<std::string, std::string> first, second;
    context.sources_digest({"src"}, stats, {}, &first);
    context.sources_digest({"src"}, stats, {}, &second);
    EXPECT_EQ(first.size(), 2u);
    EXPECT_EQ(first, second);
}

TEST_F(SharedContext, AnErrorIsEveryAskersError) {
    BuildContext context(ctx, {}, true);
    StatCache stats = fresh_stats("stats");
    EXPECT_THROW(context.sources_digest({"missing"}, stats), Error);
    EXPECT_THROW(context.sources_digest({"missing"}, stats), Error);
}

// Platforms ask at the same moment: together they read each file once.
TEST_F(SharedContext, ConcurrentAskersReadEachFileOnce) {
    for (int i = 0; i < 200; ++i)
        write(ctx / "src" / ("f" + std::to_string(i)), std::string(4096, 'x'));
    BuildContext context(ctx, {}, true);
    std::deque<StatCache> stats;  // a StatCache does not move
    for (int i = 0; i < 4; ++i)
        stats.emplace_back(tmp.path() / ("stats" + std::to_string(i)));
    std::vector<std::thread> askers;
    std::vector<content::Digest> answers(stats.size());
    for (std::size_t i = 0; i < stats.size(); ++i)
        askers.emplace_back([&, i] { answers[i] = context.sources_digest({"src"}, stats[i]); });
    for (auto& t : askers)
        t.join();
    std::size_t reads = 0;
    for (std::size_t i = 0; i < stats.size(); ++i) {
        EXPECT_EQ(answers[i], answers[0]);
        reads += stats[i].reads();
    }
    EXPECT_EQ(reads, 202u);
}

}  // namespace
}  // namespace kiln::solver
