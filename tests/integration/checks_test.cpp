// Build checks as a user meets them: warnings with file:line during a build,
// `--check` to only check, and `# check=` to skip rules or fail the build.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {
const char* kLinty = "FROM scratch AS Build\nCOPY a /a\nCMD echo hi\n";
}

TEST(Checks, BuildWarnsWithFileAndLineAndSucceeds) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", kLinty);
    write(dir / "ctx/a", "a");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("Dockerfile:1: StageNameCasing: Stage name 'Build' should be lowercase"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("Dockerfile:3: JSONArgsRecommended:"), std::string::npos) << r.err;
}

TEST(Checks, CheckOnlyChecksAndFailsOnWarnings) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", kLinty);
    write(dir / "ctx/a", "a");
    auto r = run_kiln(dir / "root",
                      {"build", "--check", "-o", "type=local,dest=" + (dir / "out").string(),
                       (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "Check complete, 2 warnings have been found!\n");
    EXPECT_FALSE(fs::exists(dir / "out")) << "--check must not build";
    write(dir / "ctx/Dockerfile", "FROM scratch AS build\nCOPY a /a\nCMD [\"/a\"]\n");
    r = run_kiln(dir / "root", {"build", "--check", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "Check complete, no warnings found.\n");
}

TEST(Checks, CheckDirectiveSkipsAndErrors) {
    Scratch dir;
    write(dir / "ctx/a", "a");
    write(dir / "ctx/Dockerfile",
          std::string("# check=skip=StageNameCasing,JSONArgsRecommended\n") + kLinty);
    auto r = run_kiln(dir / "root", {"build", "--check", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    write(dir / "ctx/Dockerfile",
          std::string("# check=skip=JSONArgsRecommended;error=true\n") + kLinty);
    r = run_kiln(dir / "root", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("StageNameCasing"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(Checks, SyntaxDirectiveIsNotedAndIgnored) {
    Scratch dir;
    write(dir / "ctx/a", "a");
    write(dir / "ctx/Dockerfile", "# syntax=docker/dockerfile:1.7\nFROM scratch\nCOPY a /a\n");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("# syntax=docker/dockerfile:1.7 is ignored"), std::string::npos) << r.err;
}
