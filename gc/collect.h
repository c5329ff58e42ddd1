// The collector's entry points: `kiln prune`, `kiln du` and the automatic
// collection after each build (policy in plan.h, what is counted in
// inventory.h, the lease that keeps running commands safe in lease.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "content/state_root.h"
#include "gc/inventory.h"
#include "gc/lease.h"
#include "gc/plan.h"

namespace kiln::gc {

struct PruneOptions {
    bool all = false;
    bool cache_mounts = false;
    bool dry_run = false;
    std::optional<std::int64_t> until;  // ns
    std::optional<std::int64_t> keep_bytes;
};

// Waits for the commands using the root (`waiting` is called once if it has
// to), reclaims what dead ones left (the recovery pass), then removes what
// the options select; with dry_run, only says what it would remove.
Plan prune(const content::StateRoot& root, const PruneOptions& options,
           void (*waiting)() = nullptr);

struct KindUsage {
    std::int64_t count = 0, bytes = 0, reclaimable = 0;
    std::int64_t last_used = 0;  // the most recent use, ns
};
struct Usage {
    Inventory inventory;
    std::vector<std::pair<std::string, KindUsage>> kinds;  // rows of `kiln du`, in order
    std::int64_t total = 0, reclaimable = 0;
};
// What the store holds (no lease: a snapshot of a store that may change).
// Reclaimable is what `kiln prune --all --cache-mounts` would free.
Usage disk_usage(const content::StateRoot& root);

// The automatic policy's limit: KILN_GC_KEEP_STORAGE-style size `setting`
// when given ("512MB", "10GB"), else a tenth of the file system `root` is on.
// Throws kiln::Error for a malformed setting.
std::int64_t keep_storage_limit(const std::filesystem::path& root,
                                const std::optional<std::string>& setting);

// After a build, holding `lease` (shared): when the store is over `keep_bytes`
// and no other command uses the root, removes what was used least recently,
// nothing used at or after `protect_after` (the build's start). Returns what
// it removed (nothing when another command holds a lease: it collects when it
// ends). Once it tried to collect, `lease` may be held by nothing (see
// Lease::try_exclusive): the build must be over. Never throws.
std::optional<Plan> collect_after_build(const content::StateRoot& root, Lease& lease,
                                        std::int64_t keep_bytes, std::int64_t protect_after,
                                        std::string* error = nullptr);

// Nanoseconds since the epoch.
std::int64_t now_ns();

}  // namespace kiln::gc
