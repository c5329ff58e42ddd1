// The build cache through whole builds (solve() with solver/cache_store.h and
// solver/stat_cache.h): which steps a rebuild runs, which it takes from the
// cache, and what the keys do and do not cover.
#include <fstream>

#include "tests/unit/solver_build_testing.h"

namespace kiln::solver::testing {
namespace {

class SolverBuildCache : public SolverBuildFixture {
  protected:
    void SetUp() override {
        add_base_image();
        context_file("a.txt", "a1");
        context_file("b.txt", "b1");
        exec_.on("one", {.writes = {{"/one", "1"}}});
        exec_.on("two", {.writes = {{"/two", "2"}}});
    }
    static constexpr const char* kFile =
        "FROM base\n"
        "RUN one\n"
        "COPY a.txt /a\n"
        "RUN two\n"
        "COPY b.txt /b\n";
    size_t runs_of(const std::string& cmd) const {
        size_t n = 0;
        for (const auto& r : exec_.runs())
            n += r.command().find(cmd) != std::string::npos;
        return n;
    }
};

TEST_F(SolverBuildCache, SecondSolveIsAllHitsAndTheSameImage) {
    auto first = build(kFile);
    EXPECT_EQ(first.stats.steps_run, 4u);
    EXPECT_EQ(first.stats.steps_cached, 0u);
    size_t calls = exec_.calls();
    policy_.now = "2025-06-01T00:00:00Z";  // a later build
    auto second = build(kFile);
    EXPECT_EQ(exec_.calls(), calls);  // the executor was not called
    EXPECT_EQ(second.stats.steps_run, 0u);
    EXPECT_EQ(second.stats.steps_cached, 4u);
    ASSERT_EQ(second.steps.size(), first.steps.size());
    for (size_t i = 0; i < first.steps.size(); ++i) {
        EXPECT_EQ(second.steps[i].stored_layer, first.steps[i].stored_layer) << i;
        EXPECT_EQ(second.steps[i].history, first.steps[i].history) << i;  // first run's time
    }
    EXPECT_EQ(second.config, first.config);
}

TEST_F(SolverBuildCache, ContextChangeMissesExactlyTheStepsThatDependOnIt) {
    build(kFile);
    context_file("b.txt", "b2");
    auto after_b = build(kFile);
    EXPECT_EQ(after_b.stats.steps_run, 1u);  // COPY b.txt only
    EXPECT_EQ(after_b.stats.steps_cached, 3u);
    EXPECT_EQ(file_in(after_b, "/b"), "b2");
    context_file("a.txt", "a2");
    auto after_a = build(kFile);
    EXPECT_EQ(after_a.stats.steps_run, 3u);  // COPY a.txt and everything after it
    EXPECT_EQ(runs_of("one"), 1u);
    EXPECT_EQ(runs_of("two"), 2u);
    EXPECT_EQ(file_in(after_a, "/a"), "a2");
}

TEST_F(SolverBuildCache, TouchingAFileWithoutChangingItStillHits) {
    build(kFile);
    context_file("a.txt", "a1");  // rewritten: new mtime, same content
    auto again = build(kFile);
    EXPECT_EQ(again.stats.steps_run, 0u);
}

TEST_F(SolverBuildCache, NoCacheRunsEveryStepAgain) {
    build(kFile);
    policy_.no_cache = true;
    auto again = build(kFile);
    EXPECT_EQ(again.stats.steps_run, 4u);
    EXPECT_EQ(runs_of("one"), 2u);
    // Results are still recorded: a build after it hits.
    policy_.no_cache = false;
    EXPECT_EQ(build(kFile).stats.steps_cached, 4u);
}

TEST_F(SolverBuildCache, NoCacheFilterSkipsTheCacheOfTheNamedStageOnly) {
    const char* file =
        "FROM base AS deps\nRUN one\n"
        "FROM deps AS app\nRUN two\n";
    build(file);
    policy_.no_cache_stages = {"APP"};  // stage names are case-insensitive
    auto again = build(file);
    EXPECT_EQ(runs_of("one"), 1u);
    EXPECT_EQ(runs_of("two"), 2u);
    EXPECT_EQ(again.stats.steps_cached, 1u);
}

TEST_F(SolverBuildCache, RunKeyCoversEnvUserAndCommand) {
    build("FROM base\nENV MODE=a\nRUN one\n");
    build("FROM base\nENV MODE=b\nRUN one\n");
    EXPECT_EQ(runs_of("one"), 2u);
    build("FROM base\nENV MODE=b\nUSER app\nRUN one\n");
    EXPECT_EQ(runs_of("one"), 3u);
    build("FROM base\nENV MODE=b\nUSER app\nRUN one\n");
    EXPECT_EQ(runs_of("one"), 3u);
    build("FROM base\nENV MODE=b\nUSER app\nRUN one more\n");
    EXPECT_EQ(runs_of("one"), 4u);
}

TEST_F(SolverBuildCache, BuildsDefaultNetworkIsInTheKey) {
    build("FROM base\nRUN one\n");
    build("FROM base\nRUN one\n");
    EXPECT_EQ(runs_of("one"), 1u);
    policy_.network = "none";
    build("FROM base\nRUN one\n");
    EXPECT_EQ(runs_of("one"), 2u);
}

TEST_F(SolverBuildCache, SecretValueIsNotInTheKey) {
    policy_.secrets["tok"] = {.file = "", .value = "first"};
    build("FROM base\nRUN --mount=type=secret,id=tok one\n");
    policy_.secrets["tok"] = {.file = "", .value = "second"};
    auto again = build("FROM base\nRUN --mount=type=secret,id=tok one\n");
    EXPECT_EQ(runs_of("one"), 1u);
    EXPECT_EQ(again.stats.steps_cached, 1u);
}

TEST_F(SolverBuildCache, BindMountedContextIsInTheKey) {
    context_file("src/x.c", "1");
    const char* file = "FROM base\nRUN --mount=type=bind,source=src,target=/src one\n";
    build(file);
    build(file);
    EXPECT_EQ(runs_of("one"), 1u);
    context_file("src/x.c", "2");
    build(file);
    EXPECT_EQ(runs_of("one"), 2u);
}

TEST_F(SolverBuildCache, CopyFromAStageFollowsThatStagesKey) {
    const char* file =
        "FROM base AS build\nRUN one\n"
        "FROM scratch\nCOPY --from=build /one /one\n";
    build(file);
    EXPECT_EQ(build(file).stats.steps_cached, 2u);
    exec_.on("one v2", {.writes = {{"/one", "changed"}}});
    auto changed = build(
        "FROM base AS build\nRUN one v2\n"
        "FROM scratch\nCOPY --from=build /one /one\n");
    EXPECT_EQ(changed.stats.steps_run, 2u);
    EXPECT_EQ(file_in(changed, "/one"), "changed");
}

TEST_F(SolverBuildCache, FailedStepIsNotCached) {
    exec_.on("flaky", {.exit_code = 1});
    build_error("FROM base\nRUN one\nRUN flaky\n");
    exec_.on("flaky", {.writes = {{"/ok", "ok"}}});
    auto image = build("FROM base\nRUN one\nRUN flaky\n");
    EXPECT_EQ(image.stats.steps_cached, 1u);
    EXPECT_EQ(image.stats.steps_run, 1u);
    EXPECT_EQ(file_in(image, "/ok"), "ok");
}

TEST_F(SolverBuildCache, KeySaltChangesEveryKey) {
    build(kFile);
    EXPECT_EQ(build(kFile).stats.steps_cached, 4u);
    policy_.key_salt = "source-date-epoch=0";
    EXPECT_EQ(build(kFile).stats.steps_run, 4u);
}

// Records are not fsynced (solver/cache_store.h): after a crash one may be
// empty or hold another record's bytes. Either is a miss, never a wrong hit.
TEST_F(SolverBuildCache, ARecordHoldingAnotherKeysRecordIsAMiss) {
    build(kFile);
    std::vector<fs::path> records;
    for (const auto& e : fs::directory_iterator(root_.cache() / "steps"))
        records.push_back(e.path());
    ASSERT_GE(records.size(), 4u);
    std::vector<std::string> texts;
    for (const auto& r : records)
        texts.push_back(kiln::snapshotter::testing::read_all(r));
    for (size_t i = 0; i < records.size(); ++i)  // each gets its neighbour's bytes
        std::ofstream(records[i], std::ios::trunc) << texts[(i + 1) % texts.size()];
    EXPECT_EQ(build(kFile).stats.steps_run, 4u);
    EXPECT_EQ(build(kFile).stats.steps_cached, 4u);  // rewritten whole
}

TEST_F(SolverBuildCache, AnEmptyRecordIsAMiss) {
    build(kFile);
    for (const auto& e : fs::directory_iterator(root_.cache() / "steps"))
        std::ofstream(e.path(), std::ios::trunc).flush();
    EXPECT_EQ(build(kFile).stats.steps_run, 4u);
    EXPECT_EQ(build(kFile).stats.steps_cached, 4u);
}

TEST_F(SolverBuildCache, WithoutACacheStoreEveryBuildRunsEverything) {
    auto plan = lower_text(kFile);
    auto d = deps();
    d.cache = nullptr;
    SolvePolicy p = policy_;
    p.context_dir = context_;
    p.work_dir = tmp_.path() / "w1";
    solve(plan, d, p);
    p.work_dir = tmp_.path() / "w2";
    EXPECT_EQ(solve(plan, d, p).stats.steps_run, 4u);
}

}  // namespace
}  // namespace kiln::solver::testing
