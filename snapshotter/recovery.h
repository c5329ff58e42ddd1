// The recovery pass: what dead kiln processes left in a state root is reclaimed
// at the start of every command that writes (build/store_ops.h calls it).
//
// A kiln killed at any instant (kill -9, an OOM kill, a cancelled CI job)
// leaves temporaries: partial blobs (.tmp-*), snapshot work directories
// (snapshots/<kind>/tmp/active-*, view-*, apply-*, commit-*, edit-*, removed-*)
// with overlay mounts still on them, build directories (tmp/build-*) with the
// private network's netns bind mount and the runtime's state of a container
// that may still run. Each is named for its owner (content/owner.h), whose
// owner file is locked for as long as the owner lives.
//
// Contract:
//  - Only entries whose owner is dead are touched; a concurrent build's never
//    (its owner file is locked). Two recoveries at once never reclaim the same
//    owner (the first holds its lock).
//  - For a dead owner's entry: its containers are deleted through the runtime
//    that made them (`runc|crun --root <state> delete -f`), then every mount
//    at or below it is detached (deepest first), then it is removed (never
//    across a mount point). The owner file goes once all its entries are gone,
//    so what could not be removed is tried again next time.
//  - Cheap when there is nothing to do: one readdir of locks/owners.
//  - Never throws: recovery is best effort, and a command must not fail for
//    what an earlier one left. What it did is returned (and tested).
#pragma once

#include <cstddef>
#include <filesystem>

namespace kiln::snapshotter {

struct Recovered {
    std::size_t owners = 0;      // dead owners reclaimed
    std::size_t entries = 0;     // files and directories removed
    std::size_t mounts = 0;      // mounts detached
    std::size_t containers = 0;  // containers deleted
};

// `root`: a state root (content/state_root.h).
Recovered recover_state_root(const std::filesystem::path& root);

}  // namespace kiln::snapshotter
