// Bad input: one clear message naming the file and line, a non-zero exit,
// nothing partial at the destination, and a store the next build still uses.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

// The message the user sees first (after the progress lines).
std::string error_line(const Result& r) {
    auto pos = r.err.find("error: ");
    return pos == std::string::npos ? "" : first_line(r.err.substr(pos));
}

}  // namespace

TEST(BadInput, MissingDockerfile) {
    Scratch dir;
    fs::create_directories(dir / "ctx");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(error_line(r).find("Dockerfile: no such file or directory"), std::string::npos)
        << r.err;
}

TEST(BadInput, UnknownInstructionNamesLineAndSuggests) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\nRUNN echo hi\n");
    write(dir / "ctx/a", "a");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(error_line(r), "error: Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)")
        << r.err;
    EXPECT_NE(r.err.find(">>> RUNN echo hi"), std::string::npos) << "source line not shown:\n"
                                                                 << r.err;
}

TEST(BadInput, MissingCopySourceNamesFileAndLine) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\n\nCOPY nothere.txt /x\n");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    auto line = error_line(r);
    EXPECT_NE(line.find("Dockerfile:3"), std::string::npos) << r.err;
    EXPECT_NE(line.find("nothere.txt"), std::string::npos) << r.err;
    EXPECT_NE(line.find("not found"), std::string::npos) << r.err;
}

TEST(BadInput, CopySourceEscapingContextIsRefused) {
    Scratch dir;
    write(dir / "outside.txt", "secret");
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY ../outside.txt /x\n");
    auto r = run_kiln(dir / "root", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                     (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    auto line = error_line(r);
    EXPECT_NE(line.find("Dockerfile:2"), std::string::npos) << r.err;
    EXPECT_NE(line.find("outside the build context"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(BadInput, SymlinkOutOfContextIsNotFollowed) {
    Scratch dir;
    write(dir / "outside.txt", "secret");
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY link /x\n");
    fs::create_symlink(dir / "outside.txt", dir / "ctx/link");
    auto r = run_kiln(dir / "root", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                     (dir / "ctx").string()});
    // The link's target is resolved inside the context, where it does not exist.
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(BadInput, UnwritableOutputLeavesNothing) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    auto target = dir / "no/such/dir/out.tar";
    auto r = run_kiln(dir / "root",
                      {"build", "-o", "type=oci,dest=" + target.string(), (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 2);  // found before the build: a usage error
    EXPECT_NE(error_line(r).find(target.string()), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir / "no"));
    // An output path that is a directory where a file must go.
    fs::create_directories(dir / "isdir.tar");
    r = run_kiln(dir / "root", {"build", "-o", "type=docker,dest=" + (dir / "isdir.tar").string(),
                                (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(fs::is_empty(dir / "isdir.tar"));
    for (auto& e : fs::directory_iterator(dir.path()))
        EXPECT_FALSE(e.path().filename().string().starts_with(".tmp")) << e.path();
}

TEST(BadInput, BadOutputSpecFailsBeforeBuilding) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    auto r = run_kiln(dir / "root", {"build", "-o", "type=oci", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 2);  // a usage error
    EXPECT_NE(error_line(r).find("dest= is required"), std::string::npos) << r.err;
    r = run_kiln(dir / "root",
                 {"build", "-o", "type=oci,dest=x,compression=lzma", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(error_line(r).find("lzma"), std::string::npos) << r.err;
}

namespace {
void corrupt(const fs::path& blob) {
    std::fstream f(blob, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f << "XXXX";
}
}  // namespace

TEST(BadInput, CorruptCompressedLayerIsDetectedAndNextBuildRecovers) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "original content");
    auto first = dir / "first";
    auto r = run_kiln(dir / "root",
                      {"build", "-o", "type=oci,dest=" + first.string(), (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The gzip layer is kept in the store for the next export: damage it there.
    auto index = nlohmann::json::parse(slurp(first / "index.json"));
    std::string mdigest = index.at("manifests")[0].at("digest");
    auto manifest = nlohmann::json::parse(slurp(first / "blobs/sha256" / mdigest.substr(7)));
    std::string layer = manifest.at("layers")[0].at("digest");
    auto blob = dir / "root/blobs/sha256" / layer.substr(7);
    ASSERT_TRUE(fs::exists(blob));
    corrupt(blob);

    auto out = dir / "out.tar";
    r = run_kiln(dir / "root",
                 {"build", "-o", "type=oci,dest=" + out.string(), (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(error_line(r).find("corrupt blob"), std::string::npos) << r.err;
    EXPECT_NE(error_line(r).find(layer.substr(7)), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << "partial output left";
    // The next build works and gives the same image as the first.
    r = run_kiln(dir / "root",
                 {"build", "-o", "type=oci,dest=" + out.string(), (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto a = json_of(run({"skopeo", "inspect", "oci-archive:" + out.string()}));
    EXPECT_EQ(a.at("Layers")[0], layer);
}

TEST(BadInput, CorruptConfigIsDetectedByInspect) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    auto r = run_kiln(dir / "root", {"build", "-t", "c", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto manifest = json_of(
        run({"skopeo", "inspect", "--raw", "oci:" + (dir / "root").string() + ":c:latest"}));
    std::string config = manifest.at("config").at("digest");
    corrupt(dir / "root/blobs/sha256" / config.substr(7));
    r = run_kiln(dir / "root", {"inspect", "c"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(error_line(r).find("corrupt blob"), std::string::npos) << r.err;
    // Rebuilding the same content restores the blob.
    ASSERT_EQ(run_kiln(dir / "root", {"build", "-t", "c", (dir / "ctx").string()}).exit_code, 0);
    EXPECT_EQ(run_kiln(dir / "root", {"inspect", "c"}).exit_code, 0);
}

TEST(BadInput, ParseErrorsExitOneWithLine) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nENV ONLYKEY\n");
    auto r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(error_line(r).find("Dockerfile:2"), std::string::npos) << r.err;
    write(dir / "ctx/Dockerfile", "FROM scratch AS\n");
    r = run_kiln(dir / "root", {"build", (dir / "ctx").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(error_line(r).find("FROM requires either one or three arguments"), std::string::npos)
        << r.err;
}
