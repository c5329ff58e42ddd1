// buildx's --add-host, --shm-size and --ulimit values, turned into what every
// RUN's sandbox gets (sandbox::BuildSettings). Each throws kiln::UsageError
// naming the flag and the value at fault, before any step runs.
#pragma once

#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace kiln::build {

// --add-host NAME:IP (or NAME=IP, as buildx also takes it; an IPv6 address
// after the first ':' is kept whole). buildx's special `host-gateway` is
// refused: a RUN's private network has no gateway that is the host.
// --shm-size: bytes, or with k, m, g (powers of 1024, as Docker's).
// --ulimit TYPE=SOFT[:HARD] (HARD = SOFT when absent; -1 or "unlimited" for
// no limit), TYPE one of Docker's names (nofile, nproc, core, ...).
sandbox::BuildSettings parse_run_settings(const std::vector<std::string>& add_hosts,
                                          const std::string& shm_size,
                                          const std::vector<std::string>& ulimits);

}  // namespace kiln::build
