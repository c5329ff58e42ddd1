// Deciding what a collection removes: a pure function of an inventory and a
// policy (no disk), so every rule is tested with an inventory written inline.
//
// Rules:
//  - Candidates are units (inventory.h) last used before `protect_after`
//    (the automatic collection protects what the build that runs it used or
//    made) and, with `until`, not used within it. Cache mounts are candidates
//    only with `cache_mounts`; snapshots in a named image's chain only with
//    `all`.
//  - Without `keep_bytes` every candidate goes. With it, candidates go least
//    recently used first, and only while the store is larger than it.
//  - A blob goes when nothing kept refers to it: no named image, no kept
//    cache record, and (for a compressed twin) no layer that holds it. A
//    layer (diffID) holds its twins while something refers to it or while
//    its own blob is kept. Blobs nothing referred to in the first place (an
//    unnamed build's manifest, a base image resolved but never named) go
//    first, under the same `until` and `protect_after` by their mtime.
//  - A layer that holds its twins no more loses its twin records; a blob
//    that goes loses its sources record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "gc/inventory.h"

namespace kiln::gc {

struct Policy {
    bool all = false;
    bool cache_mounts = false;
    std::optional<std::int64_t> until;          // ns: keep what was used this recently
    std::optional<std::int64_t> keep_bytes;     // stop once the store is this small
    std::optional<std::int64_t> protect_after;  // ns since the epoch
    std::int64_t now = 0;                       // ns since the epoch
};

struct Removal {
    Kind kind;
    std::filesystem::path path;
    std::int64_t bytes = 0;      // what it frees, with the blobs only it kept
    std::int64_t own_bytes = 0;  // its own files
    std::int64_t last_used = 0;
    std::string description;
    std::string snapshot_kind, snapshot_key;
};

struct Plan {
    std::vector<Removal> units;
    std::vector<content::Digest> blobs;          // to unlink, after the units
    std::vector<std::filesystem::path> records;  // twin and sources records, before the blobs
    std::int64_t total_before = 0;
    std::int64_t freed = 0;
};

// The store's total as the inventory counts it.
std::int64_t total_bytes(const Inventory& inv);

Plan plan_collection(const Inventory& inv, const Policy& policy);

}  // namespace kiln::gc
