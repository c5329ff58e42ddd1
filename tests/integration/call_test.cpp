// buildx's --call through the CLI: outline and targets print on stdout and
// build nothing (the store is not even made); check is --check.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class Call : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "ctx/Dockerfile",
              "# VERSION what to stamp\nARG VERSION=1\n"
              "# app builds the thing\nFROM scratch AS app\nARG VERSION\n"
              "RUN --mount=type=secret,id=token,required=true true\n");
    }
    Result call(const std::string& what, const std::vector<std::string>& more = {}) {
        std::vector<std::string> args = {"build", "--call", what};
        args.insert(args.end(), more.begin(), more.end());
        args.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", args);
    }
    Scratch dir;
};

}  // namespace

TEST_F(Call, OutlinePrintsWhatTheTargetUsesAndBuildsNothing) {
    auto r = call("outline", {"-q", "--build-arg", "VERSION=2"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(r.out,
              "TARGET:      app\n"
              "DESCRIPTION: builds the thing\n\n"
              "BUILD ARG   VALUE   DESCRIPTION\n"
              "VERSION     2       what to stamp\n\n"
              "SECRET   REQUIRED\n"
              "token    true\n");
    EXPECT_EQ(r.err, "");
    EXPECT_FALSE(fs::exists(dir / "root"));
}

TEST_F(Call, TargetsListsTheStages) {
    auto r = call("targets");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(r.out, "TARGET          DESCRIPTION\napp (default)   builds the thing\n");
}

TEST_F(Call, CheckIsTheBuildChecks) {
    write(dir / "ctx/Dockerfile", "from scratch AS App\n");
    auto r = call("check");
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.out.find("Check complete"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("StageNameCasing"), std::string::npos) << r.err;
    auto bad = call("everything");
    EXPECT_EQ(bad.exit_code, 2) << joined(bad);
    EXPECT_NE(bad.err.find("--call"), std::string::npos) << bad.err;
}
