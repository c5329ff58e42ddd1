// File names are bytes, not text: a context file whose name is not UTF-8
// copies, caches and exports like any other (issue #10).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

// Latin-1 "café" (0xe9) and a 0xff byte: neither is UTF-8; nor is the
// directory holding a 0xfe.
const std::string kFile = "caf\xe9";
const std::string kDir = "d\xff";
const std::string kNested = "n\xfe";

struct Counts {
    int run = -1, cached = -1, files_read = -1;
};

Counts counts(const fs::path& meta) {
    auto m = nlohmann::json::parse(slurp(meta));
    return {m.at("kiln.steps.run").get<int>(), m.at("kiln.steps.cached").get<int>(),
            m.at("kiln.context.files_read").get<int>()};
}

}  // namespace

TEST(NonUtf8, ContextFileNamesCopyCacheAndExportByteForByte) {
    Scratch dir;
    const auto ctx = dir / "ctx";
    write(ctx / "Dockerfile", "FROM scratch\nCOPY . /\n");
    write(ctx / kFile, "x");
    write(ctx / kDir / kNested, "nested");
    const auto meta = (dir / "meta.json").string();

    auto first = run_kiln(dir / "root", {"build", "--metadata-file", meta, ctx.string()});
    ASSERT_EQ(first.exit_code, 0) << joined(first);
    EXPECT_EQ(counts(meta).run, 1);

    // Unchanged: the COPY is cached and no file is read again (the stat
    // cache kept the names' digests).
    const auto out = dir / "out";
    auto second = run_kiln(dir / "root", {"build", "--metadata-file", meta, "-o",
                                          "type=local,dest=" + out.string(), ctx.string()});
    ASSERT_EQ(second.exit_code, 0) << joined(second);
    auto c = counts(meta);
    EXPECT_EQ(c.run, 0);
    EXPECT_EQ(c.cached, 1);
    EXPECT_EQ(c.files_read, 0);
    EXPECT_NE(second.err.find("CACHED"), std::string::npos) << second.err;
    EXPECT_EQ(second.out, first.out) << "same image";

    // The files, under their exact byte names.
    EXPECT_EQ(slurp(out / kFile), "x");
    EXPECT_EQ(slurp(out / kDir / kNested), "nested");
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"Dockerfile", kFile, kDir}));

    // A changed file is read again and the COPY reruns.
    write(ctx / kFile, "y");
    auto third = run_kiln(dir / "root", {"build", "--metadata-file", meta, ctx.string()});
    ASSERT_EQ(third.exit_code, 0) << joined(third);
    c = counts(meta);
    EXPECT_EQ(c.run, 1);
    EXPECT_EQ(c.files_read, 1);
}

// The Dockerfile itself may name such a file: the step's cache key keeps the
// bytes (two names never share a key) and the history line is still JSON.
TEST(NonUtf8, DockerfileNamingANonUtf8FileBuildsAndCaches) {
    Scratch dir;
    const auto ctx = dir / "ctx";
    write(ctx / "Dockerfile", "FROM scratch\nCOPY " + kFile + " /f\nCOPY caf\xe8 /g\n");
    write(ctx / kFile, "e9");
    write(ctx / "caf\xe8", "e8");
    const auto meta = (dir / "meta.json").string();
    const auto out = dir / "out";
    auto first = run_kiln(dir / "root", {"build", "--metadata-file", meta, "-o",
                                         "type=local,dest=" + out.string(), ctx.string()});
    ASSERT_EQ(first.exit_code, 0) << joined(first);
    EXPECT_EQ(slurp(out / "f"), "e9");
    EXPECT_EQ(slurp(out / "g"), "e8");
    EXPECT_EQ(counts(meta).run, 2);
    auto second = run_kiln(dir / "root", {"build", "--metadata-file", meta, ctx.string()});
    ASSERT_EQ(second.exit_code, 0) << joined(second);
    EXPECT_EQ(counts(meta).cached, 2);
}
