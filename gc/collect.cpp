#include "gc/collect.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "base/error.h"
#include "base/limits.h"
#include "gc/sweep.h"
#include "snapshotter/recovery.h"

namespace kiln::gc {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Plan prune(const content::StateRoot& root, const PruneOptions& options, void (*waiting)()) {
    Lease lease(root, Lease::Mode::exclusive, waiting);
    snapshotter::recover_state_root(root.path());
    Policy p;
    p.all = options.all;
    p.cache_mounts = options.cache_mounts;
    p.until = options.until;
    p.keep_bytes = options.keep_bytes;
    p.now = now_ns();
    Plan plan = plan_collection(take_inventory(root.path()), p);
    if (!options.dry_run)
        sweep(root.path(), plan);
    return plan;
}

Usage disk_usage(const content::StateRoot& root) {
    Usage u;
    u.inventory = take_inventory(root.path());
    Policy p;
    p.all = true;
    p.cache_mounts = true;
    p.now = now_ns();
    Plan plan = plan_collection(u.inventory, p);
    u.total = total_bytes(u.inventory);
    u.reclaimable = plan.freed;

    KindUsage images, layers, tmp, other;
    std::map<Kind, KindUsage> by_kind;
    for (const auto& [d, b] : u.inventory.blobs) {
        const bool named = u.inventory.image_blobs.count(d) > 0;
        KindUsage& k = named ? images : layers;
        ++k.count;
        k.bytes += b.bytes;
        k.last_used = std::max(k.last_used, b.mtime);
    }
    std::set<content::Digest> freed(plan.blobs.begin(), plan.blobs.end());
    for (const auto& [d, b] : u.inventory.blobs)
        if (freed.count(d))
            layers.reclaimable += b.bytes;
    for (const auto& unit : u.inventory.units) {
        KindUsage& k = by_kind[unit.kind];
        ++k.count;
        k.bytes += unit.bytes;
        k.last_used = std::max(k.last_used, unit.last_used);
    }
    // A unit's own bytes; the blobs a record alone kept are counted with blobs.
    for (const auto& r : plan.units)
        by_kind[r.kind].reclaimable += r.own_bytes;
    tmp.bytes = u.inventory.tmp_bytes;
    other.bytes = u.inventory.other_bytes;
    u.kinds = {{"image blobs", images},
               {"other blobs", layers},
               {"snapshots", by_kind[Kind::snapshot]},
               {"cache records", by_kind[Kind::record]},
               {"cache mounts", by_kind[Kind::cache_mount]},
               {"stat caches", by_kind[Kind::stat_cache]},
               {"git checkouts", by_kind[Kind::git_checkout]},
               {"corrupt blobs", by_kind[Kind::quarantined]},
               {"temporary", tmp},
               {"other", other}};
    return u;
}

std::int64_t keep_storage_limit(const std::filesystem::path& root,
                                const std::optional<std::string>& setting) {
    if (setting && !setting->empty()) {
        std::uint64_t v = parse_size(*setting);
        return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
    }
    struct statvfs fs;
    if (::statvfs(root.c_str(), &fs) != 0)
        return INT64_MAX;
    return static_cast<std::int64_t>(fs.f_blocks / 10) * static_cast<std::int64_t>(fs.f_frsize);
}

std::optional<Plan> collect_after_build(const content::StateRoot& root, Lease& lease,
                                        std::int64_t keep_bytes, std::int64_t protect_after,
                                        std::string* error) {
    try {
        // Cheap when there is nothing to do: an inventory reads directories
        // and the sizes it keeps, and walks only new snapshots.
        Inventory inv = take_inventory(root.path(), Sizing::bound);
        if (total_bytes(inv) <= keep_bytes || !lease.try_exclusive())
            return std::nullopt;
        // Taken again under the exclusive lease: another command may have
        // changed the store between the two.
        inv = take_inventory(root.path());
        Policy p;
        p.all = true;
        p.cache_mounts = true;
        p.keep_bytes = keep_bytes;
        p.protect_after = protect_after;
        p.now = now_ns();
        Plan plan = plan_collection(inv, p);
        sweep(root.path(), plan);
        return plan;
    } catch (const std::exception& e) {
        if (error)
            *error = e.what();
        return std::nullopt;
    }
}

}  // namespace kiln::gc
