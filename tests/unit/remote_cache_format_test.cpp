// The "kiln.cache" records a cache manifest's config (or an image's) carries.
#include <gtest/gtest.h>

#include "base/error.h"
#include "remote_cache/cache_format.h"

namespace kiln::remote_cache {
namespace {

Record record(const std::string& name, std::optional<LayerRef> layer) {
    return {content::Digest::of(name),
            content::Digest::of("parent").str(),
            "2026-01-02T03:04:05Z",
            layer,
            {{"instruction", "RUN " + name}}};
}

TEST(CacheFormat, RecordsRoundTrip) {
    std::vector<Record> in = {record("a", LayerRef{1, content::Digest::of("tar"), 2048}),
                              record("b", std::nullopt)};
    auto j = encode_records(in);
    EXPECT_EQ(j["version"], 1);
    auto out = decode_records(j, 2, "cache");
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].key, in[0].key);
    EXPECT_EQ(out[0].parent, in[0].parent);
    EXPECT_EQ(out[0].created, "2026-01-02T03:04:05Z");
    ASSERT_TRUE(out[0].layer);
    EXPECT_EQ(out[0].layer->index, 1u);
    EXPECT_EQ(out[0].layer->diff_id, content::Digest::of("tar"));
    EXPECT_EQ(out[0].layer->diff_size, 2048);
    EXPECT_EQ(out[0].summary["instruction"], "RUN a");
    EXPECT_FALSE(out[1].layer);
}

TEST(CacheFormat, ALayerIndexPastTheManifestIsRefused) {
    auto j = encode_records({record("a", LayerRef{3, content::Digest::of("tar"), 1})});
    EXPECT_THROW(decode_records(j, 3, "cache"), Error);
}

TEST(CacheFormat, AnotherVersionOrGarbageIsRefusedByName) {
    try {
        decode_records({{"version", 2}, {"records", nlohmann::json::array()}}, 0, "r/x:c");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("r/x:c"), std::string::npos);
    }
    EXPECT_THROW(decode_records({{"version", 1}, {"records", {{{"key", 5}}}}}, 0, "c"), Error);
    EXPECT_THROW(decode_records({{"version", 1}, {"records", {{{"key", "md5:x"}}}}}, 0, "c"),
                 Error);
}

}  // namespace
}  // namespace kiln::remote_cache
