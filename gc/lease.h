// The collector's lease on a state root: what keeps a prune from deleting what
// a running command uses.
//
// Contract:
//  - Every command that writes to a root (build, pull, push, load, tag, rmi)
//    holds a shared Lease for its whole run, taken before it reads anything;
//    a collection holds an exclusive one. So a prune waits for the commands
//    in progress and commands started meanwhile wait for it: everything a
//    build made or uses, named or not yet, is never collected under it.
//  - The lease is an flock on locks/gc.lock, one open file per Lease, so two
//    builds in one process (tests) hold two leases and exclude a collection
//    as two processes do; the kernel drops it when a process dies.
//  - Read-only commands (images, inspect, du) take none: they tolerate files
//    that vanish under them.
#pragma once

#include <cstdint>

#include "base/unique_fd.h"
#include "content/state_root.h"

namespace kiln::gc {

class Lease {
  public:
    enum class Mode { shared, exclusive };
    // Blocks until held. `waiting` is called once, before blocking, when the
    // lease is not free at once (a prune says it waits for builds).
    explicit Lease(const content::StateRoot& root, Mode mode = Mode::shared,
                   void (*waiting)() = nullptr);
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = default;

    // Turns a shared lease into an exclusive one without waiting; false when
    // another lease is held. flock converts by unlocking first, so a failed
    // attempt leaves this lease held by nothing: only the end of a command
    // (the automatic collection after a build) may try.
    bool try_exclusive();

    // The file system's time now, in nanoseconds since the epoch: what a file
    // touched from now on has as its mtime at least (file times follow a
    // coarse clock that lags the system's by up to a tick).
    std::int64_t file_time_now() const;

  private:
    UniqueFd fd_;
};

}  // namespace kiln::gc
