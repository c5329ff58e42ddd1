// The build cache as a user sees it: an unchanged rebuild runs nothing and
// reads no file, a change reruns exactly what depends on it.
#include <sys/stat.h>
#include <utime.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

struct Counts {
    int run = -1, cached = -1, files_read = -1;
};

class Cache : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "ctx/Dockerfile",
              "FROM scratch AS base\nCOPY a.txt /a.txt\nWORKDIR /work\n"
              "FROM base AS app\nARG UNUSED\nCOPY b.txt /b.txt\nCOPY --from=base /a.txt "
              "/copy-of-a\n");
        write(dir / "ctx/a.txt", "a");
        write(dir / "ctx/b.txt", "b");
    }
    Counts build(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"build", "--metadata-file", (dir / "meta.json").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back((dir / "ctx").string());
        last = run_kiln(dir / "root", args);
        EXPECT_EQ(last.exit_code, 0) << last.err;
        auto m = nlohmann::json::parse(slurp(dir / "meta.json"));
        return {m.at("kiln.steps.run").get<int>(), m.at("kiln.steps.cached").get<int>(),
                m.at("kiln.context.files_read").get<int>()};
    }
    Scratch dir;
    Result last;
};

}  // namespace

TEST_F(Cache, UnchangedRebuildRunsNothingAndReadsNoFile) {
    auto first = build();
    EXPECT_EQ(first.run, 4);
    EXPECT_EQ(first.cached, 0);
    auto digest = last.out;
    auto again = build();
    EXPECT_EQ(again.run, 0);
    EXPECT_EQ(again.cached, 4);
    EXPECT_EQ(again.files_read, 0);
    EXPECT_EQ(last.out, digest) << "same image";
    EXPECT_NE(last.err.find("CACHED"), std::string::npos) << last.err;
}

TEST_F(Cache, TouchWithoutChangeStillHits) {
    build();
    struct utimbuf t {
        2000000000, 2000000000
    };
    ASSERT_EQ(utime((dir / "ctx/a.txt").c_str(), &t), 0);
    auto c = build();
    EXPECT_EQ(c.run, 0);
    EXPECT_EQ(c.files_read, 1) << "the touched file is read once, and matches";
}

TEST_F(Cache, ChangedFileRerunsOnlyWhatDependsOnIt) {
    build();
    write(dir / "ctx/b.txt", "b changed");
    auto c = build();
    EXPECT_EQ(c.run, 2) << "COPY b.txt and the step after it in its stage";
    EXPECT_EQ(c.cached, 2) << "the base stage";
    write(dir / "ctx/a.txt", "a changed");
    c = build();
    EXPECT_EQ(c.run, 4) << "everything stands on a.txt";
}

TEST_F(Cache, UnusedBuildArgInvalidatesNothing) {
    build();
    auto c = build({"--build-arg", "UNUSED=1"});
    EXPECT_EQ(c.run, 0);
    c = build({"--build-arg", "OTHER=2"});
    EXPECT_EQ(c.run, 0);
}

TEST_F(Cache, NoCacheAndNoCacheFilter) {
    build();
    auto c = build({"--no-cache"});
    EXPECT_EQ(c.run, 4);
    c = build({"--no-cache-filter", "app"});
    EXPECT_EQ(c.run, 2) << "the app stage's two COPYs";
    EXPECT_EQ(c.cached, 2);
}

TEST_F(Cache, CachedImageEqualsFreshOne) {
    std::map<std::string, std::string> env{{"SOURCE_DATE_EPOCH", "1700000000"}};
    auto a = run_kiln(dir / "root", {"build", (dir / "ctx").string()}, env);
    auto b = run_kiln(dir / "root", {"build", (dir / "ctx").string()}, env);
    auto c = run_kiln(dir / "fresh", {"build", (dir / "ctx").string()}, env);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(a.out, c.out);
}

TEST(CacheLink, CopyLinkSurvivesAChangedBase) {
    Scratch dir;
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY base.txt /base.txt\nCOPY --link app.txt /app/\n");
    write(dir / "ctx/base.txt", "one");
    write(dir / "ctx/app.txt", "app");
    auto meta = dir / "meta.json";
    auto build = [&] {
        auto r = run_kiln(dir / "root",
                          {"build", "--metadata-file", meta.string(), "-o",
                           "type=local,dest=" + (dir / "out").string(), (dir / "ctx").string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(slurp(meta));
    };
    build();
    write(dir / "ctx/base.txt", "two");
    fs::remove_all(dir / "out");
    auto m = build();
    EXPECT_EQ(m.at("kiln.steps.run"), 1) << "only the changed COPY; the --link layer is reused";
    EXPECT_EQ(m.at("kiln.steps.cached"), 1);
    EXPECT_EQ(slurp(dir / "out/base.txt"), "two");
    EXPECT_EQ(slurp(dir / "out/app/app.txt"), "app");
}

TEST(CacheExclude, ExcludedFileChangesInvalidateNothing) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY --exclude=*.log src /src\n");
    write(dir / "ctx/src/app.txt", "app");
    write(dir / "ctx/src/debug.log", "one");
    auto meta = dir / "meta.json";
    auto build = [&] {
        auto r = run_kiln(dir / "root",
                          {"build", "--metadata-file", meta.string(), "-o",
                           "type=local,dest=" + (dir / "out").string(), (dir / "ctx").string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return nlohmann::json::parse(slurp(meta));
    };
    build();
    EXPECT_FALSE(fs::exists(dir / "out/src/debug.log"));
    write(dir / "ctx/src/debug.log", "two");
    fs::remove_all(dir / "out");
    EXPECT_EQ(build().at("kiln.steps.run"), 0);
    write(dir / "ctx/src/app.txt", "changed");
    fs::remove_all(dir / "out");
    EXPECT_EQ(build().at("kiln.steps.run"), 1);
}
