// `kiln prune` and `kiln du`: the collector (gc/collect.h) as buildx's
// `prune` and `du` present it.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/limits.h"
#include "cli/commands.h"
#include "cli/units.h"
#include "cli/usage.h"
#include "gc/collect.h"
#include "gc/duration.h"

namespace kiln::cli {

namespace {

std::string short_id(const gc::Removal& r) {
    std::string name = r.path.filename().string();
    return name.substr(0, 12);
}

std::string what_of(gc::Kind kind, const std::string& description) {
    std::string d = description;
    for (char& c : d)
        if (c == '\n' || c == '\t')
            c = ' ';
    if (d.size() > 60)
        d = d.substr(0, 57) + "...";
    return std::string(gc::kind_name(kind)) + (d.empty() ? "" : ": " + d);
}

bool confirmed(const PruneArgs& a) {
    if (a.force || a.dry_run)
        return true;
    std::cerr << "WARNING! This will remove "
              << (a.all ? "all build cache, the unpacked snapshots of named images included"
                        : "all build cache that named images do not use")
              << (a.cache_mounts ? ", and cache mounts" : "")
              << ".\nAre you sure you want to continue? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer))
        std::cerr << "\n";  // no answer (stdin at its end): end the prompt's line
    return answer == "y" || answer == "Y" || answer == "yes";
}

void say_waiting() {
    std::cerr << "waiting for the other kiln commands using this store to finish...\n";
}

}  // namespace

int prune(const std::optional<std::string>& root_flag, const PruneArgs& a) {
    gc::PruneOptions o;
    o.all = a.all;
    o.cache_mounts = a.cache_mounts;
    o.dry_run = a.dry_run;
    for (const std::string& f : a.filters) {
        auto eq = f.find('=');
        const std::string key = f.substr(0, eq);
        if (eq == std::string::npos || (key != "until" && key != "unused-for"))
            throw UsageError("--filter " + f +
                             ": unknown filter (kiln prune knows until=DURATION)");
        o.until = as_usage("--filter", [&] { return gc::parse_duration(f.substr(eq + 1)); });
    }
    if (!a.keep_storage.empty()) {
        std::uint64_t v = as_usage("--keep-storage", [&] { return parse_size(a.keep_storage); });
        o.keep_bytes =
            v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
    }
    content::StateRoot root(content::resolve_state_root(root_flag));
    if (!confirmed(a)) {
        std::cerr << "nothing removed (-f prunes without asking)\n";
        return 0;
    }
    gc::Plan plan = gc::prune(root, o, say_waiting);
    const std::int64_t now = gc::now_ns();
    if (!plan.units.empty()) {
        std::printf("%-14s %-10s %-16s %s\n", "ID", "SIZE", "LAST USED", "WHAT");
        for (const auto& r : plan.units)
            std::printf("%-14s %-10s %-16s %s\n", short_id(r).c_str(), human_size(r.bytes).c_str(),
                        time_ago(r.last_used, now).c_str(), what_of(r.kind, r.description).c_str());
    }
    std::int64_t blob_bytes = plan.freed;
    for (const auto& r : plan.units)
        blob_bytes -= r.own_bytes;
    if (!plan.blobs.empty())
        std::printf("%zu blob(s) nothing uses any more\n", plan.blobs.size());
    std::printf("%s %s\n", a.dry_run ? "Would reclaim:" : "Total:", human_size(plan.freed).c_str());
    return 0;
}

int du(const std::optional<std::string>& root_flag, bool verbose) {
    content::StateRoot root(content::resolve_state_root(root_flag));
    gc::Usage u = gc::disk_usage(root);
    const std::int64_t now = gc::now_ns();
    if (verbose) {
        std::printf("%-14s %-10s %-16s %s\n", "ID", "SIZE", "LAST USED", "WHAT");
        for (const auto& unit : u.inventory.units)
            std::printf("%-14s %-10s %-16s %s%s\n",
                        unit.path.filename().string().substr(0, 12).c_str(),
                        human_size(unit.bytes).c_str(), time_ago(unit.last_used, now).c_str(),
                        what_of(unit.kind, unit.description).c_str(),
                        unit.of_image ? " (named image)" : "");
        std::printf("\n");
    }
    std::printf("%-14s %-7s %-10s %-12s %s\n", "KIND", "COUNT", "SIZE", "RECLAIMABLE", "LAST USED");
    for (const auto& [kind, k] : u.kinds)
        std::printf("%-14s %-7s %-10s %-12s %s\n", kind.c_str(),
                    k.count ? std::to_string(k.count).c_str() : "-", human_size(k.bytes).c_str(),
                    human_size(k.reclaimable).c_str(), time_ago(k.last_used, now).c_str());
    std::printf("Total:\t\t%s\nReclaimable:\t%s\n", human_size(u.total).c_str(),
                human_size(u.reclaimable).c_str());
    return 0;
}

}  // namespace kiln::cli
