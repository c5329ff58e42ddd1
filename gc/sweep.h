// Carrying out a plan (plan.h) on a state root, under an exclusive Lease.
//
// Order keeps every invariant of the store at each instant, so a sweep killed
// half way leaves nothing the next command trips on: units first (a cache
// record goes before the blob it names), then twin and sources records, then
// blobs. Snapshots go through their snapshotter (renamed away, then removed);
// cache mounts and git checkouts are renamed into tmp/ under this process's owner token before
// they are removed, so the recovery pass finishes what a killed sweep began.
#pragma once

#include <filesystem>

#include "gc/plan.h"

namespace kiln::gc {

// Throws kiln::Error naming what could not be removed (after trying the rest).
void sweep(const std::filesystem::path& root, const Plan& plan);

}  // namespace kiln::gc
