// gc/plan.h: what a collection removes, from inventories written inline.
#include <gtest/gtest.h>

#include <algorithm>

#include "gc/plan.h"

namespace kiln::gc {
namespace {

using content::Digest;

constexpr std::int64_t kHour = 3600LL * 1000000000;
constexpr std::int64_t kNow = 1000 * kHour;

Digest d(const std::string& name) {
    return Digest::of(name);
}

Unit record(const std::string& name, std::int64_t last_used, std::vector<Digest> refs = {}) {
    return {Kind::record, "/r/cache/steps/" + name, 100, last_used, std::move(refs), name, "", "",
            false};
}
Unit snapshot(const std::string& name, std::int64_t bytes, std::int64_t last_used,
              bool of_image = false) {
    return {Kind::snapshot,
            "/r/snapshots/overlayfs/" + name,
            bytes,
            last_used,
            {},
            name,
            "overlayfs",
            "key-" + name,
            of_image};
}
Unit mount(const std::string& name, std::int64_t bytes, std::int64_t last_used) {
    return {
        Kind::cache_mount, "/r/cache/mounts/" + name, bytes, last_used, {}, name, "", "", false};
}

std::vector<std::string> removed(const Plan& p) {
    std::vector<std::string> out;
    for (const auto& r : p.units)
        out.push_back(r.path.filename().string());
    return out;
}
bool blob_goes(const Plan& p, const Digest& b) {
    return std::find(p.blobs.begin(), p.blobs.end(), b) != p.blobs.end();
}

Policy at_now() {
    Policy p;
    p.now = kNow;
    return p;
}

TEST(GcPlan, APruneRemovesEveryRecordAndTheLayerOnlyItKept) {
    Inventory inv;
    inv.blobs[d("layer")] = {5000, 0};
    inv.units.push_back(record("r1", kNow - kHour, {d("layer")}));
    Plan p = plan_collection(inv, at_now());
    EXPECT_EQ(removed(p), std::vector<std::string>{"r1"});
    EXPECT_TRUE(blob_goes(p, d("layer")));
    EXPECT_EQ(p.freed, 5100);
    EXPECT_EQ(p.units[0].bytes, 5100) << "a record frees the layer only it kept";
    EXPECT_EQ(p.units[0].own_bytes, 100);
}

TEST(GcPlan, ABlobANamedImageUsesStaysWhenTheRecordGoes) {
    Inventory inv;
    inv.blobs[d("layer")] = {5000, 0};
    inv.image_blobs.insert(d("layer"));
    inv.units.push_back(record("r1", kNow - kHour, {d("layer")}));
    Plan p = plan_collection(inv, at_now());
    EXPECT_EQ(removed(p), std::vector<std::string>{"r1"});
    EXPECT_FALSE(blob_goes(p, d("layer")));
}

TEST(GcPlan, ABlobTwoRecordsShareGoesWithTheSecond) {
    Inventory inv;
    inv.blobs[d("layer")] = {5000, 0};
    inv.units.push_back(record("old", kNow - 3 * kHour, {d("layer")}));
    inv.units.push_back(record("new", kNow - 1 * kHour, {d("layer")}));
    Policy pol = at_now();
    pol.until = 2 * kHour;
    Plan p = plan_collection(inv, pol);
    EXPECT_EQ(removed(p), std::vector<std::string>{"old"});
    EXPECT_FALSE(blob_goes(p, d("layer"))) << "the newer record still names it";
    p = plan_collection(inv, at_now());
    EXPECT_EQ(removed(p), (std::vector<std::string>{"old", "new"}));
    EXPECT_TRUE(blob_goes(p, d("layer")));
}

TEST(GcPlan, CompressedTwinsLiveAndDieWithTheirDiffId) {
    Inventory inv;
    inv.blobs[d("diff")] = {5000, 0};
    inv.blobs[d("gz")] = {2000, 0};
    inv.twins[d("diff")] = {{"/r/cache/compressed/gzip--1/diff", d("gz")}};
    inv.sources[d("gz")] = "/r/cache/sources/gz";
    inv.units.push_back(record("r1", kNow - kHour, {d("diff")}));
    Policy keep = at_now();
    keep.until = 2 * kHour;
    Plan kept = plan_collection(inv, keep);
    EXPECT_TRUE(kept.blobs.empty());
    EXPECT_TRUE(kept.records.empty());

    Plan p = plan_collection(inv, at_now());
    EXPECT_TRUE(blob_goes(p, d("diff")));
    EXPECT_TRUE(blob_goes(p, d("gz")));
    EXPECT_EQ(p.records, (std::vector<std::filesystem::path>{"/r/cache/compressed/gzip--1/diff",
                                                             "/r/cache/sources/gz"}));
    EXPECT_EQ(p.freed, 7100);
}

TEST(GcPlan, ATwinANamedImageNamesStaysWhenItsDiffIdGoes) {
    Inventory inv;
    inv.blobs[d("diff")] = {5000, 0};
    inv.blobs[d("gz")] = {2000, 0};
    inv.twins[d("diff")] = {{"/r/twin", d("gz")}};
    inv.image_blobs.insert(d("gz"));  // a pulled image's manifest names the compressed blob
    Plan p = plan_collection(inv, at_now());
    EXPECT_TRUE(blob_goes(p, d("diff")));
    EXPECT_FALSE(blob_goes(p, d("gz")));
}

TEST(GcPlan, AnUnreferencedLayerTheFilterKeepsKeepsItsTwins) {
    Inventory inv;
    inv.blobs[d("diff")] = {5000, kNow - kHour};
    inv.blobs[d("gz")] = {2000, kNow - 48 * kHour};
    inv.twins[d("diff")] = {{"/r/twin", d("gz")}};
    Policy pol = at_now();
    pol.until = 24 * kHour;
    Plan p = plan_collection(inv, pol);
    EXPECT_FALSE(blob_goes(p, d("diff")));
    EXPECT_FALSE(blob_goes(p, d("gz")));
    EXPECT_TRUE(p.records.empty());
}

TEST(GcPlan, UnreferencedBlobsGoFirstAndTheFilterAppliesToThem) {
    Inventory inv;
    inv.blobs[d("old manifest")] = {300, kNow - 48 * kHour};
    inv.blobs[d("new manifest")] = {300, kNow - 1 * kHour};
    Policy pol = at_now();
    pol.until = 24 * kHour;
    Plan p = plan_collection(inv, pol);
    EXPECT_TRUE(blob_goes(p, d("old manifest")));
    EXPECT_FALSE(blob_goes(p, d("new manifest")));
}

TEST(GcPlan, NamedImagesSnapshotsGoOnlyWithAll) {
    Inventory inv;
    inv.units.push_back(snapshot("image", 1000, kNow - kHour, true));
    inv.units.push_back(snapshot("cache", 1000, kNow - kHour, false));
    EXPECT_EQ(removed(plan_collection(inv, at_now())), std::vector<std::string>{"cache"});
    Policy all = at_now();
    all.all = true;
    EXPECT_EQ(removed(plan_collection(inv, all)).size(), 2u);
}

TEST(GcPlan, CacheMountsGoOnlyWhenAsked) {
    Inventory inv;
    inv.units.push_back(mount("m", 1000, kNow - kHour));
    EXPECT_TRUE(plan_collection(inv, at_now()).units.empty());
    Policy pol = at_now();
    pol.cache_mounts = true;
    EXPECT_EQ(removed(plan_collection(inv, pol)), std::vector<std::string>{"m"});
}

TEST(GcPlan, KeepStorageRemovesLeastRecentlyUsedFirstAndStopsUnderTheLimit) {
    Inventory inv;
    inv.units.push_back(snapshot("newest", 1000, kNow - 1 * kHour));
    inv.units.push_back(snapshot("oldest", 1000, kNow - 3 * kHour));
    inv.units.push_back(snapshot("middle", 1000, kNow - 2 * kHour));
    Policy pol = at_now();
    pol.keep_bytes = 1500;
    Plan p = plan_collection(inv, pol);
    EXPECT_EQ(removed(p), (std::vector<std::string>{"oldest", "middle"}));
    EXPECT_EQ(p.total_before, 3000);
    EXPECT_EQ(p.freed, 2000);
}

TEST(GcPlan, NothingHappensUnderTheLimit) {
    Inventory inv;
    inv.blobs[d("orphan")] = {100, 0};
    inv.units.push_back(snapshot("s", 1000, kNow - kHour));
    Policy pol = at_now();
    pol.keep_bytes = 5000;
    Plan p = plan_collection(inv, pol);
    EXPECT_TRUE(p.units.empty());
    EXPECT_TRUE(p.blobs.empty());
}

TEST(GcPlan, WhatTheCurrentBuildUsedIsNeverRemoved) {
    Inventory inv;
    inv.blobs[d("its manifest")] = {300, kNow};  // unnamed: the build had no -t
    inv.blobs[d("its layer")] = {5000, kNow};
    inv.units.push_back(record("this build's", kNow, {d("its layer")}));
    inv.units.push_back(snapshot("earlier", 1000, kNow - kHour));
    Policy pol = at_now();
    pol.all = true;
    pol.keep_bytes = 0;
    pol.protect_after = kNow - 60LL * 1000000000;
    Plan p = plan_collection(inv, pol);
    EXPECT_EQ(removed(p), std::vector<std::string>{"earlier"});
    EXPECT_TRUE(p.blobs.empty());
}

}  // namespace
}  // namespace kiln::gc
