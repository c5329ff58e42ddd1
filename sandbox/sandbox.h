// Run one process in a given rootfs through a real OCI runtime (runc by default).
//
// The sandbox is what keeps a RUN step from seeing or touching the host: its own mount,
// pid, ipc, uts and network namespaces (the host's network only when asked), Docker's default
// capability set, Docker's masked and read-only /proc and /sys paths. The isolation is the
// runtime's: we only generate its runtime-spec config.json and drive its CLI.
//
// Invariants of run():
//   - When it returns or throws, no container and no process it started is left: the
//     runtime's state under work_dir is deleted (`runtime delete -f`) and every child is
//     reaped, on success, non-zero exit, cancel and exception alike.
//   - A process that ran and exited (any code, or killed by a signal) is a RunResult; a
//     runtime that could not start the container or the process is a SandboxError naming
//     the runtime and its message. Callers can therefore tell "RUN failed" from "kiln
//     could not run it".
//   - Mount points the runtime had to create in rootfs (e.g. /proc, /etc/hosts on a
//     scratch image) are removed again when still empty stubs, so they do not end up in
//     the layer diff (as BuildKit does). The cwd, when created, stays (also as BuildKit).
//
// Depends only on base/.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace kiln::sandbox {

// Anything that kept a process from being run (bad options, unknown user, a runtime that
// is missing or refuses to start). Not thrown for a process that ran and exited non-zero.
class SandboxError : public Error {
  public:
    using Error::Error;
};

// One entry of the runtime spec's "mounts", as OCI defines it (e.g. type "bind" with
// options {"rbind","ro"}, or type "tmpfs"). Destinations are paths inside the container.
struct Mount {
    std::string destination, type, source;
    std::vector<std::string> options;
};

struct User {
    uint32_t uid = 0, gid = 0;
    std::vector<uint32_t> additional_gids;
};

// Resolves a Dockerfile USER spec ("name[:group]", "uid[:gid]", mixes, or "" for root)
// against rootfs/etc/passwd and rootfs/etc/group, by Docker's (runc's) rules:
//   - a user name must have a passwd entry: otherwise SandboxError
//     "unable to find user X: no matching entries in passwd file";
//   - a numeric uid needs no entry (gid then defaults to 0), but takes the entry's gid
//     when there is one; missing files are fine for numeric specs;
//   - an explicit group (name must exist in /etc/group, a number need not) sets the gid
//     and gives no supplementary groups; without one, the supplementary groups are the
//     groups that list the user as a member.
// The files are looked up inside rootfs: symlinks are resolved with rootfs as "/", so a
// hostile image cannot make us read a host file.
User resolve_user(const std::filesystem::path& rootfs, const std::string& spec);

// What a build gives every RUN's sandbox, as buildx's --add-host, --shm-size
// and --ulimit do (BuildKit keeps them in the exec op, so they are part of a
// RUN's cache key: solver/op_exec.cpp).
struct Rlimit {
    std::string type;  // as OCI names it: "RLIMIT_NOFILE"
    std::uint64_t soft = 0, hard = 0;
};
struct BuildSettings {
    std::vector<std::pair<std::string, std::string>> extra_hosts;  // (name, IP) for /etc/hosts
    std::uint64_t shm_size = 0;   // bytes of /dev/shm; 0 = 64 MiB, Docker's default
    std::vector<Rlimit> ulimits;  // the process's rlimits; none given = inherited
    bool empty() const { return extra_hosts.empty() && shm_size == 0 && ulimits.empty(); }
};

struct RunOptions {
    std::filesystem::path rootfs;   // already-mounted writable root (absolute)
    std::vector<std::string> args;  // argv (the caller applies SHELL / exec form)
    std::vector<std::string> env;   // "K=V" (the caller supplies PATH)
    std::string cwd = "/";          // created in rootfs when missing (as BuildKit does)
    User user;
    std::vector<Mount> mounts;  // extra mounts (RUN --mount), after the standard ones
    // The step's network: its own namespace holding only loopback (none), a
    // prepared namespace with outbound access (private: netns_path, see
    // sandbox/network.h), or the host's (host: only for entitled builds).
    enum class Network { none, private_ns, host };
    Network network = Network::none;
    std::filesystem::path netns_path;  // for private_ns
    // RUN --security=insecure in a build started with --allow security.insecure:
    // every capability, no seccomp filter, nothing masked (as BuildKit). Otherwise
    // Docker's default capabilities under the ecosystem's default seccomp profile.
    bool insecure = false;
    std::string hostname = "buildkitsandbox";
    BuildSettings settings;
    std::string runtime = "runc";  // runc-compatible CLI (runc, crun), looked up in PATH
    // Scratch for bundle/, runtime-state/ (the runtime's --root), etc/ (generated files)
    // and runtime.log; created if missing; the caller removes it. Must not be inside
    // rootfs (the step would see it and it would land in the layer).
    std::filesystem::path work_dir;
    // Each line of stdout+stderr (without its '\n'), as it comes, on the calling thread.
    // Each stream keeps its own order; how stdout and stderr lines interleave is not
    // fixed (runc copies the two streams separately, as under Docker). Lines longer than
    // 64 KiB are passed in pieces. If the runtime fails, its own error message may also
    // appear here (it shares the process's stderr). An exception thrown here ends run()
    // (after the usual cleanup) and propagates.
    std::function<void(std::string_view line)> on_output;
    // Polled about every 100 ms; when it becomes true, the process is killed (SIGKILL to
    // the whole container) and run() returns with cancelled = true.
    const std::atomic<bool>* cancel = nullptr;
};

struct RunResult {
    int exit_code = 0;  // 128+N when killed by signal N
    bool cancelled = false;
};

// Runs opts.args in opts.rootfs and waits for it. Blocking; safe to call from several
// threads at once with distinct work_dirs (each run has its own container id and state).
RunResult run(const RunOptions& opts);

// The config.json run() would use (pure; unit-testable). generated_etc_dir holds the
// resolv.conf, hosts and hostname files that are bind-mounted read-only over /etc.
nlohmann::json make_runtime_spec(const RunOptions& opts,
                                 const std::filesystem::path& generated_etc_dir);

}  // namespace kiln::sandbox
