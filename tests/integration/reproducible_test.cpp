// Two builds of the same inputs with the same SOURCE_DATE_EPOCH give the same
// image digest, in different state roots, whatever the files' mtimes.
#include <sys/stat.h>
#include <utime.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

TEST(Reproducible, SameEpochSameDigestInTwoRoots) {
    Scratch dir;
    for (const char* c : {"ctx1", "ctx2"}) {
        write(dir / c / "Dockerfile",
              "FROM scratch\nCOPY . /app/\nWORKDIR /srv\nCMD [\"/app/x\"]\n");
        write(dir / c / "x", "payload", 0755);
        write(dir / c / "sub/y", "more");
    }
    // Different mtimes, both after the epoch: clamping must hide them.
    struct utimbuf t {
        2000000000, 2000000000
    };
    utime((dir / "ctx2/x").c_str(), &t);
    std::map<std::string, std::string> env{{"SOURCE_DATE_EPOCH", "1700000000"}};
    auto a = run_kiln(
        dir / "root1",
        {"build", "-o", "type=oci,dest=" + (dir / "a.tar").string(), (dir / "ctx1").string()}, env);
    auto b = run_kiln(
        dir / "root2",
        {"build", "-o", "type=oci,dest=" + (dir / "b.tar").string(), (dir / "ctx2").string()}, env);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    auto ia = json_of(run({"skopeo", "inspect", "oci-archive:" + (dir / "a.tar").string()}));
    auto ib = json_of(run({"skopeo", "inspect", "oci-archive:" + (dir / "b.tar").string()}));
    EXPECT_EQ(ia.at("Digest"), ib.at("Digest"));
    EXPECT_EQ(ia.at("Created"), "2023-11-14T22:13:20Z");
    EXPECT_EQ(slurp(dir / "a.tar"), slurp(dir / "b.tar"));
}

TEST(Reproducible, DifferentContentDifferentDigest) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY x /x\n");
    write(dir / "ctx/x", "one");
    std::map<std::string, std::string> env{{"SOURCE_DATE_EPOCH", "1700000000"}};
    auto a = run_kiln(dir / "root", {"build", (dir / "ctx").string()}, env);
    write(dir / "ctx/x", "two");
    auto b = run_kiln(dir / "root", {"build", (dir / "ctx").string()}, env);
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_NE(a.out, b.out);
}
