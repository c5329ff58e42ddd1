// RUN --mount values (BuildKit's instructions/commands_runmount.go): a CSV record of
// key[=value] fields read into a MountSpec with BuildKit's defaults and checks. Internal to
// frontend/.
#pragma once

#include <string>

#include "frontend/build_plan.h"
#include "frontend/lower_context.h"
#include "frontend/parser.h"

namespace kiln::frontend {

// Reads one --mount value of node. Every value is expanded with expand; a relative target is
// joined to workdir; ssh_index numbers the default ssh agent sockets. from= is kept as
// written in MountSpec::from (from_stage / from_image are the caller's: they need the stage
// graph). Throws (ctx.fail on node) in BuildKit's words for a malformed record, an unknown
// key, a bad value or a key the mount type does not take.
MountSpec parse_mount(const Node& node, const std::string& value, int ssh_index,
                      const std::string& workdir, const ExpandWord& expand,
                      const LowerContext& ctx);

// The raw from= value of a --mount value ("" when none or malformed), for the stage graph,
// which is built before anything is expanded.
std::string mount_from_raw(const std::string& value);

}  // namespace kiln::frontend
