// --cache-to / --cache-from specs as buildx spells them.
#include <gtest/gtest.h>

#include "base/error.h"
#include "remote_cache/cache_spec.h"

namespace kiln::remote_cache {
namespace {

std::string refusal(const std::string& text, Direction d) {
    try {
        parse_cache_spec(text, d);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(CacheSpec, ABareReferenceIsARegistryCache) {
    auto s = parse_cache_spec("registry.example/app:cache", Direction::from);
    EXPECT_EQ(s.type, "registry");
    EXPECT_EQ(s.get("ref"), "registry.example/app:cache");
    EXPECT_FALSE(s.max_mode());
}

TEST(CacheSpec, RegistryAttributesAreRead) {
    auto s = parse_cache_spec(
        "type=registry,ref=r.example/a:c,mode=max,compression=zstd,compression-level=5,"
        "oci-mediatypes=true,image-manifest=false,ignore-error=true",
        Direction::to);
    EXPECT_TRUE(s.max_mode());
    EXPECT_EQ(s.compression().kind, exporter::Compression::zstd);
    EXPECT_EQ(s.compression().level, 5);
    EXPECT_FALSE(s.flag("image-manifest", true));
    EXPECT_TRUE(s.flag("ignore-error", false));
    EXPECT_EQ(s.where(), "r.example/a:c");
}

TEST(CacheSpec, LocalNeedsDestToExportAndSrcToImport) {
    EXPECT_EQ(parse_cache_spec("type=local,dest=/c", Direction::to).where(), "/c");
    EXPECT_EQ(parse_cache_spec("type=local,src=/c,tag=t", Direction::from).get("tag"), "t");
    EXPECT_NE(refusal("type=local,src=/c", Direction::to).find("dest= is required"),
              std::string::npos);
    EXPECT_NE(refusal("type=local,dest=/c", Direction::from).find("src= is required"),
              std::string::npos);
}

TEST(CacheSpec, InlineIsExportOnlyAndAlwaysMin) {
    EXPECT_EQ(parse_cache_spec("type=inline", Direction::to).type, "inline");
    EXPECT_NE(refusal("type=inline", Direction::from).find("--cache-from IMAGE"),
              std::string::npos);
    EXPECT_NE(refusal("type=inline,mode=max", Direction::to).find("mode=min"), std::string::npos);
}

TEST(CacheSpec, MistakesAreNamedWithTheFlagAndTheSpec) {
    EXPECT_EQ(refusal("type=gha", Direction::to),
              "invalid --cache-to \"type=gha\": type=gha is not supported (use registry, local "
              "or inline)");
    EXPECT_NE(refusal("type=registry", Direction::to).find("ref= is required"), std::string::npos);
    EXPECT_NE(refusal("type=registry,ref=a/b,mode=all", Direction::to).find("mode must be"),
              std::string::npos);
    EXPECT_NE(refusal("type=registry,ref=a/b,ignore-error=yes", Direction::to)
                  .find("ignore-error must be true or false"),
              std::string::npos);
    EXPECT_NE(refusal("type=registry,ref=a/b,dest=/x", Direction::to).find("takes no \"dest\""),
              std::string::npos);
    EXPECT_NE(refusal("type=registry,ref=a/b,compression=lz4", Direction::to), "");
    EXPECT_NE(refusal("type=registry,ref=a/b,compression=zstd,oci-mediatypes=false", Direction::to)
                  .find("needs oci-mediatypes=true"),
              std::string::npos);
    EXPECT_NE(refusal("type=registry,ref=UPPER/Case", Direction::from), "");
    EXPECT_NE(refusal("", Direction::from), "");
}

}  // namespace
}  // namespace kiln::remote_cache
