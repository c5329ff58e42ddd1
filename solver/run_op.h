// RUN: one command in a sandbox on the stage's root file system, through the
// injected Executor (sandbox/executor.h) — never the runtime directly, so the
// request it builds is what unit tests see.
//
// Contract: the process sees `root` as / (writable; what it changes is the
// step's layer), the RUN's mounts, its environment, user and working
// directory; everything kiln creates for it (secret files, copies for rw
// binds, runtime state) lives under `work_dir` and is gone when the caller
// removes that. A non-zero exit throws kiln::Error naming the command and
// the exit code; cancellation kills the process and throws too.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "sandbox/executor.h"

namespace kiln::solver {

// Where --secret values come from: id → file path or the value itself.
struct SecretSource {
    std::string file;   // read at use
    std::string value;  // from env=, when file is empty
};

struct RunContext {
    std::filesystem::path root;          // the mounted, writable root
    std::filesystem::path work_dir;      // private scratch for this RUN
    std::filesystem::path cache_mounts;  // where type=cache mounts persist
    // Resolves RUN --mount from=<stage|context> to a host directory to bind.
    std::function<std::filesystem::path(const frontend::MountSpec&)> mount_source;
    std::map<std::string, SecretSource> secrets;
    std::string ssh_socket;  // --ssh default: the agent socket, "" = none
    // Runs the process; "default" network is asked for as Network::private_ns
    // (the executor's own private network).
    sandbox::Executor* executor = nullptr;
    std::string default_network;      // kiln build --network: for RUNs without --network
    sandbox::BuildSettings settings;  // kiln build --add-host, --shm-size, --ulimit
    std::function<void(std::string_view line)> on_output;
    const std::atomic<bool>* cancel = nullptr;
};

void run_step(const frontend::Step& step, const RunContext& ctx);

}  // namespace kiln::solver
