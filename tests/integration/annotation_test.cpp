// --annotation at buildx's levels, read back with skopeo (OCI layouts and the
// fixture's registry) and from the layout's own JSON files: a manifest's own,
// one platform's, the index's, and the descriptors' in index.json.
#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

class Annotation : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
        write(dir / "ctx/f", "x\n");
    }
    Result build(const std::vector<std::string>& args) {
        std::vector<std::string> all = {"build", "--progress", "plain"};
        all.insert(all.end(), args.begin(), args.end());
        all.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", all);
    }
    json raw(const std::string& ref) {
        auto r = run({"skopeo", "inspect", "--raw", "--tls-verify=false", ref});
        EXPECT_EQ(r.exit_code, 0) << joined(r);
        return r.exit_code == 0 ? json::parse(r.out) : json::object();
    }
    Scratch dir;
};

}  // namespace

TEST_F(Annotation, ManifestAndItsDescriptorInAnOciLayout) {
    if (!have_tool("skopeo"))
        GTEST_SKIP() << "skopeo not installed";
    const fs::path layout = dir / "layout";
    auto r = build({"--annotation", "org.opencontainers.image.title=Demo", "--annotation",
                    "manifest-descriptor:com.example.entry=yes", "-t", "demo:1", "-o",
                    "type=oci,dest=" + layout.string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    json m = raw("oci:" + layout.string() + ":1");
    EXPECT_EQ(m["annotations"], json({{"org.opencontainers.image.title", "Demo"}})) << m.dump();
    json entry = json::parse(slurp(layout / "index.json"))["manifests"][0];
    EXPECT_EQ(entry["annotations"]["com.example.entry"], "yes") << entry.dump();
    EXPECT_EQ(entry["annotations"]["org.opencontainers.image.ref.name"], "1") << entry.dump();
    // The annotation is part of the manifest: another value, another digest.
    auto again = build({"--annotation", "org.opencontainers.image.title=Other", "-o",
                        "type=oci,dest=" + (dir / "layout2").string()});
    ASSERT_EQ(again.exit_code, 0) << joined(again);
    EXPECT_NE(json::parse(slurp(dir / "layout2/index.json"))["manifests"][0]["digest"],
              entry["digest"]);
}

TEST_F(Annotation, EveryLevelOfAMultiPlatformPush) {
    if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
        GTEST_SKIP() << *why;
    RegistryFixture reg(RegistryMode::plain);
    const std::string ref = reg.host() + "/annotated:1";
    auto r = build({"--platform", "linux/amd64,linux/arm64", "--annotation", "index:level=index",
                    "--annotation", "manifest[linux/arm64]:level=arm64-manifest", "--annotation",
                    "manifest-descriptor:level=entry", "--annotation", "index-descriptor:level=top",
                    "-o", "type=registry,name=" + ref, "-o",
                    "type=oci,dest=" + (dir / "layout").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);

    for (const std::string& source : {"docker://" + ref, "oci:" + (dir / "layout").string()}) {
        json index = raw(source);
        EXPECT_EQ(index["annotations"], json({{"level", "index"}})) << source << index.dump();
        ASSERT_EQ(index["manifests"].size(), 2u) << index.dump();
        for (const auto& entry : index["manifests"]) {
            EXPECT_EQ(entry["annotations"], json({{"level", "entry"}})) << entry.dump();
            const std::string arch = entry["platform"]["architecture"];
            const std::string digest = entry["digest"];
            json manifest = source.starts_with("oci:")
                                ? json::parse(slurp(dir / "layout/blobs/sha256" / digest.substr(7)))
                                : raw("docker://" + reg.host() + "/annotated@" + digest);
            if (arch == "arm64") {
                EXPECT_EQ(manifest["annotations"], json({{"level", "arm64-manifest"}}))
                    << manifest.dump();
            } else {
                EXPECT_FALSE(manifest.contains("annotations")) << manifest.dump();
            }
        }
    }
    json top = json::parse(slurp(dir / "layout/index.json"))["manifests"][0];
    EXPECT_EQ(top["annotations"]["level"], "top") << top.dump();
}

TEST_F(Annotation, IndexLevelsOfASinglePlatformBuildAreRefusedFirst) {
    auto r = build({"--annotation", "index:k=v"});
    EXPECT_EQ(r.exit_code, 2) << joined(r);
    EXPECT_NE(r.err.find("a single-platform build makes no index"), std::string::npos) << r.err;
    auto bad = build({"--annotation", "bogus:k=v"});
    EXPECT_EQ(bad.exit_code, 2) << joined(bad);
    EXPECT_NE(bad.err.find("unknown type \"bogus\""), std::string::npos) << bad.err;
    EXPECT_EQ(bad.err.find("#1"), std::string::npos) << "refused before any step: " << bad.err;
}
