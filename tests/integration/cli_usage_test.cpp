// Command-line mistakes, as a user coming from `docker buildx build` makes
// them: each is one line on stderr naming the flag (and the one meant, when
// close), exit code 2, and no step runs. The kiln binary is run as a user runs it.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class CliUsage : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
        write(dir / "ctx/f", "f\n");
    }
    Result kiln(const std::vector<std::string>& args) { return run_kiln(dir / "root", args); }
    // A usage error: exit 2 and exactly `line` on stderr, nothing on stdout.
    void expect_usage(const Result& r, const std::string& line) {
        EXPECT_EQ(r.exit_code, 2) << joined(r);
        EXPECT_EQ(r.err, "error: " + line + "\n");
        EXPECT_EQ(r.out, "");
    }
    Scratch dir;
};

}  // namespace

TEST_F(CliUsage, AnUnknownFlagIsNamedWithTheOneMeant) {
    expect_usage(kiln({"build", "--cache-fro", "type=local,src=x", (dir / "ctx").string()}),
                 "unknown flag --cache-fro for kiln build; did you mean --cache-from?");
    expect_usage(kiln({"build", "--tagg=a", (dir / "ctx").string()}),
                 "unknown flag --tagg for kiln build; did you mean --tag?");
    // Nothing close: the flag alone.
    expect_usage(kiln({"build", "--frobnicate", (dir / "ctx").string()}),
                 "unknown flag --frobnicate for kiln build");
    expect_usage(kiln({"prune", "--dry", "-f"}),
                 "unknown flag --dry for kiln prune; did you mean --dry-run?");
}

TEST_F(CliUsage, AnUnknownCommandIsNamedWithTheOneMeant) {
    expect_usage(kiln({"biuld", (dir / "ctx").string()}),
                 "unknown command \"biuld\" for kiln; did you mean build?");
    expect_usage(kiln({"debug", "dump-asts", "Dockerfile"}),
                 "unknown command \"dump-asts\" for kiln debug; did you mean dump-ast?");
}

TEST_F(CliUsage, AMissingArgumentIsOneLine) {
    auto r = kiln({"build"});
    EXPECT_EQ(r.exit_code, 2) << joined(r);
    EXPECT_EQ(r.err.rfind("error: kiln build: context is required", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliUsage, VersionFlagPrintsWhatTheVersionCommandPrints) {
    auto flag = kiln({"--version"});
    auto command = kiln({"version"});
    EXPECT_EQ(flag.exit_code, 0) << joined(flag);
    EXPECT_EQ(flag.out, command.out);
    EXPECT_EQ(flag.out.rfind("kiln ", 0), 0u) << flag.out;
}

TEST_F(CliUsage, HelpIsNotAnError) {
    auto r = kiln({"build", "--help"});
    EXPECT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.out.find("--cache-from"), std::string::npos) << r.out;
}

// Specs refuse keys they do not read, rather than drop them, before any step runs.
TEST_F(CliUsage, SpecsRefuseUnknownKeysBeforeTheBuild) {
    const std::string ctx = (dir / "ctx").string();
    const std::string oci = (dir / "oci").string();
    expect_usage(kiln({"build", "-o", "type=oci,dest=" + oci + ",unknownkey=1", ctx}),
                 "invalid --output \"type=oci,dest=" + oci +
                     ",unknownkey=1\": type=oci takes no \"unknownkey\" (it takes dest, tar, "
                     "name, compression, compression-level, oci-mediatypes)");
    expect_usage(kiln({"build", "-o", "type=local,dest=" + oci + ",push=true", ctx}),
                 "invalid --output \"type=local,dest=" + oci +
                     ",push=true\": type=local takes no \"push\" (it takes dest)");
    expect_usage(kiln({"build", "--secret", "id=a,srcc=/etc/hostname", ctx}),
                 "invalid --secret \"id=a,srcc=/etc/hostname\": unknown key \"srcc\" (it takes "
                 "id, src, env and type)");
    auto cache = kiln({"build", "--cache-to", "type=local,dest=" + oci + ",bogus=1", ctx});
    EXPECT_EQ(cache.exit_code, 2) << joined(cache);
    EXPECT_NE(cache.err.find("\"bogus\""), std::string::npos) << cache.err;
    expect_usage(kiln({"prune", "-f", "--filter", "label=x"}),
                 "--filter label=x: unknown filter (kiln prune knows until=DURATION)");
    EXPECT_FALSE(fs::exists(dir / "oci"));
}

// A destination that cannot be written is found before the build, not after it.
TEST_F(CliUsage, AnUnwritableDestinationFailsBeforeAnyStep) {
    const std::string dest = (dir / "missing/dir/image.tar").string();
    auto r = kiln({"build", "-o", "type=oci,dest=" + dest, (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 2) << joined(r);
    EXPECT_NE(r.err.find("-o type=oci,dest=" + dest + ": cannot write " + dest + ": " +
                         (dir / "missing/dir").string() + " is not a directory"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("COPY"), std::string::npos) << "a step ran:\n" << r.err;
}

// A secret given as buildx's type=env reads the variable the id names.
TEST_F(CliUsage, ASecretOfTypeEnvReadsTheVariableItsIdNames) {
    auto r = run_kiln(dir / "root", {"build", "--secret", "type=env,id=KILN_TEST_NO_SUCH_VARIABLE",
                                     (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 2) << joined(r);
    EXPECT_NE(r.err.find("environment variable KILN_TEST_NO_SUCH_VARIABLE is not set"),
              std::string::npos)
        << r.err;
}
