// --annotation in buildx's syntax (exporter/annotations.h): the levels, a
// platform for one manifest, and the refusals.
#include <gtest/gtest.h>

#include "base/error.h"
#include "exporter/annotations.h"

namespace kiln::exporter {
namespace {

using Map = std::map<std::string, std::string>;
const content::Platform kAmd64{"amd64", "linux", ""};
const content::Platform kArm64{"arm64", "linux", "v8"};

TEST(Annotations, NoTypeIsTheManifestAndValuesMayHoldColonsAndEquals) {
    auto a = parse_annotations({"org.opencontainers.image.url=https://x.example/a=b"});
    EXPECT_EQ(a.for_manifest(kAmd64),
              (Map{{"org.opencontainers.image.url", "https://x.example/a=b"}}));
    EXPECT_TRUE(a.index.empty());
    EXPECT_TRUE(a.for_manifest_descriptor(kAmd64).empty());
}

TEST(Annotations, SeveralTypesAndAPlatform) {
    auto a = parse_annotations({"index,manifest-descriptor:both=1",
                                "manifest[linux/arm64/v8]:only=arm", "index-descriptor:top=1"});
    EXPECT_EQ(a.index, (Map{{"both", "1"}}));
    EXPECT_EQ(a.for_manifest_descriptor(kAmd64), (Map{{"both", "1"}}));
    EXPECT_EQ(a.for_manifest(kArm64), (Map{{"only", "arm"}}));
    EXPECT_TRUE(a.for_manifest(kAmd64).empty());
    EXPECT_EQ(a.index_descriptor, (Map{{"top", "1"}}));
}

TEST(Annotations, MistakesAreUsageErrors) {
    for (const char* bad : {"novalue", "=v", "manifest:=v", "bogus:k=v", "manifest[linux]:k=v",
                            "index[linux/amd64]:k=v", "manifest[linux/amd64:k=v"})
        EXPECT_THROW(parse_annotations({bad}), UsageError) << bad;
}

TEST(Annotations, IndexLevelsNeedSeveralPlatforms) {
    EXPECT_THROW(check_annotations(parse_annotations({"index:k=v"}), 1), UsageError);
    EXPECT_THROW(check_annotations(parse_annotations({"index-descriptor:k=v"}), 1), UsageError);
    EXPECT_NO_THROW(check_annotations(parse_annotations({"index:k=v"}), 2));
    EXPECT_NO_THROW(check_annotations(parse_annotations({"manifest-descriptor:k=v"}), 1));
}

}  // namespace
}  // namespace kiln::exporter
