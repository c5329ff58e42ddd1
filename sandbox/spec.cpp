// The OCI runtime-spec config.json for one RUN: what Docker/BuildKit give a build step
// (moby's oci/defaults.go and BuildKit's executor/oci), minus cgroup limits and seccomp.
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

namespace {

using nlohmann::json;

// Docker's default capability set (moby oci/caps/defaults.go).
const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE",
    };
    return caps;
}

// Kernel interfaces hidden from the container (Docker's maskedPaths).
const std::vector<std::string>& masked_paths() {
    static const std::vector<std::string> paths = {
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    };
    return paths;
}

// Kernel interfaces the container may read but not write (Docker's readonlyPaths).
const std::vector<std::string>& readonly_paths() {
    static const std::vector<std::string> paths = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    };
    return paths;
}

json mount(const std::string& dest, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
    return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

}  // namespace

json make_runtime_spec(const RunOptions& opts, const std::filesystem::path& generated_etc_dir) {
    if (!opts.rootfs.is_absolute()) {
        throw SandboxError("sandbox rootfs must be an absolute path: " + opts.rootfs.string());
    }
    if (opts.args.empty()) {
        throw SandboxError("sandbox: no command to run");
    }
    if (opts.cwd.empty() || opts.cwd[0] != '/') {
        throw SandboxError("sandbox: working directory must be absolute: " + opts.cwd);
    }

    json user = {{"uid", opts.user.uid}, {"gid", opts.user.gid}};
    if (!opts.user.additional_gids.empty()) {
        user["additionalGids"] = opts.user.additional_gids;
    }
    const auto& caps = default_capabilities();
    json process = {
        {"terminal", false},
        {"user", user},
        {"args", opts.args},
        {"env", opts.env},
        {"cwd", opts.cwd},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        // No rlimits: the step inherits kiln's (as BuildKit resets them to its own).
        {"noNewPrivileges", false},
    };

    json mounts = json::array({
        mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
        mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        mount("/dev/pts", "devpts", "devpts",
              {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        mount("/dev/shm", "tmpfs", "shm",
              {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
        mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
    });
    for (const char* name : {"resolv.conf", "hosts", "hostname"}) {
        mounts.push_back(mount(std::string("/etc/") + name, "bind",
                               (generated_etc_dir / name).string(),
                               {"rbind", "ro", "nosuid", "nodev", "noexec"}));
    }
    for (const auto& m : opts.mounts) {
        if (m.destination.empty() || m.destination[0] != '/') {
            throw SandboxError("sandbox: mount destination must be absolute: " + m.destination);
        }
        mounts.push_back(mount(m.destination, m.type, m.source, m.options));
    }

    json namespaces =
        json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
    if (opts.network == RunOptions::Network::none) {
        // A new network namespace holds only a loopback device: no way out.
        namespaces.push_back({{"type", "network"}});
    } else if (opts.network == RunOptions::Network::private_ns) {
        if (opts.netns_path.empty())
            throw SandboxError("sandbox: a private network needs its namespace's path");
        namespaces.push_back({{"type", "network"}, {"path", opts.netns_path.string()}});
    }

    return json{
        {"ociVersion", "1.0.2"},
        {"process", process},
        {"root", {{"path", opts.rootfs.string()}, {"readonly", false}}},
        {"hostname", opts.hostname},
        {"mounts", mounts},
        {"linux",
         {
             {"namespaces", namespaces},
             {"maskedPaths", masked_paths()},
             {"readonlyPaths", readonly_paths()},
         }},
    };
}

}  // namespace kiln::sandbox
