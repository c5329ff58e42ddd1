// What a state root holds, as the collector sees it: every reclaimable thing
// with its size and last use, and what refers to what.
//
// Kinds of things (the rows of `kiln du`):
//  - blobs (blobs/sha256/*): never collected for themselves; a blob goes when
//    nothing kept refers to it. Named images refer to their manifest, config,
//    layers and diffIDs; a cache record to its layer's diffID; a diffID that
//    is referred to keeps its compressed twins (cache/compressed/*/<diffID>).
//  - cache records (cache/steps/*): a step's result. Last use: the record's
//    mtime, which a cache hit touches.
//  - snapshots (snapshots/<kind>/<hex>): unpacked trees, made again from blobs
//    when missing (their key is a chain ID). Last use: the directory's mtime,
//    which prepare, view, edit and apply touch. Those in the chains of named
//    images are marked, so a prune without --all keeps them.
//  - stat caches (cache/stat/*), cache mounts (cache/mounts/*), git checkouts
//    (cache/git/*, the trees of git build contexts by commit): last use is
//    their mtime; a RUN using a cache mount touches it, as a build of a kept
//    git commit does its checkout.
//  - quarantined blobs (tmp/corrupt-*): blobs found corrupt when read, kept
//    for a look; collected as units.
//  - other temporaries (tmp/): reclaimed by the recovery pass, counted here.
//
// Sizes are what the disk holds (allocated blocks); a file with several links
// counts for its share in each. Snapshot sizes are kept in cache/gc/sizes.json
// (snapshots never change once committed), so taking an inventory walks only
// snapshots it has not seen before.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "content/digest.h"

namespace kiln::gc {

enum class Kind { record, snapshot, stat_cache, cache_mount, git_checkout, quarantined };
const char* kind_name(Kind k);

// Something collected as a whole, least recently used first.
struct Unit {
    Kind kind;
    std::filesystem::path path;
    std::int64_t bytes = 0;
    std::int64_t last_used = 0;         // nanoseconds since the epoch
    std::vector<content::Digest> refs;  // record: its layer's diffID
    std::string description;            // record: its instruction; snapshot: its layer
    std::string snapshot_kind, snapshot_key;
    bool of_image = false;  // a snapshot in a named image's chain
};

struct Blob {
    std::int64_t bytes = 0;
    std::int64_t mtime = 0;
};

// A compressed twin record: cache/compressed/<variant>/<diffID>.
struct Twin {
    std::filesystem::path record;
    content::Digest blob;
};

struct Inventory {
    std::map<std::string, content::Digest> images;  // name → manifest
    std::set<content::Digest> image_blobs;          // what named images refer to
    std::map<content::Digest, Blob> blobs;
    std::map<content::Digest, std::vector<Twin>> twins;        // by diffID
    std::map<content::Digest, std::filesystem::path> sources;  // cache/sources/<blob>
    std::vector<Unit> units;
    std::int64_t tmp_bytes = 0;
    std::int64_t other_bytes = 0;  // index.json, locks, records of twins and sources
};

// How snapshots not measured before are sized: `exact` walks them (and keeps
// the result); `bound` puts an upper bound instead, four times the size of
// the layer tar they hold (a tar rounds each file to 512 bytes and adds a
// 512-byte header; the disk rounds to 4 KiB blocks), for the check after each
// build, which must stay cheap: a new 20,000-file snapshot takes 60 ms to walk.
enum class Sizing { exact, bound };

// Reads `root` (a state root's path). Files that vanish while it reads (a
// concurrent prune) are left out; unreadable records count as unreferenced.
Inventory take_inventory(const std::filesystem::path& root, Sizing sizing = Sizing::exact);

// Allocated bytes under `dir` (a directory or a file), walked fd-relative,
// never following a symlink nor leaving its file system.
std::int64_t disk_bytes(const std::filesystem::path& dir);

}  // namespace kiln::gc
