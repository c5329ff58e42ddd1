// The OCI runtime-spec config.json for one RUN: what Docker/BuildKit give a build step
// (moby's oci/defaults.go and BuildKit's executor/oci), minus cgroup limits; with
// RUN --security=insecure, what BuildKit's insecure mode gives instead.
#include <cstdint>
#include <cstdlib>
#include <fstream>

#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

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

// Every capability the running kernel knows (0 to /proc/sys/kernel/cap_last_cap) that kiln
// itself holds (CapEff in /proc/self/status): what an insecure step gets. As BuildKit
// (containerd's cap.Current()): a runtime cannot grant a capability its caller lacks (runc
// fails with "unable to apply caps"), and a root kiln under a container manager or a
// restricted service often lacks some. Numbers newer than this table have no name a runtime
// would accept, so they are left out.
const std::vector<std::string>& all_capabilities() {
    static const std::vector<std::string> caps = [] {
        // clang-format off
        static const char* const names[] = {  // index = capability number (linux/capability.h)
            /*  0 */ "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
            /*  4 */ "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
            /*  8 */ "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
            /* 11 */ "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
            /* 15 */ "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
            /* 19 */ "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
            /* 23 */ "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
            /* 27 */ "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
            /* 31 */ "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
            /* 35 */ "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
            /* 39 */ "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
        };
        // clang-format on
        constexpr int known = static_cast<int>(std::size(names));
        int last = -1;
        std::ifstream in("/proc/sys/kernel/cap_last_cap");
        if (!(in >> last) || last < 0) {
            throw SandboxError("sandbox: cannot read /proc/sys/kernel/cap_last_cap");
        }
        uint64_t effective = 0;
        bool found = false;
        std::ifstream status("/proc/self/status");
        for (std::string line; !found && std::getline(status, line);) {
            if (line.rfind("CapEff:", 0) == 0) {
                effective = std::strtoull(line.c_str() + 7, nullptr, 16);
                found = true;
            }
        }
        if (!found) {
            throw SandboxError("sandbox: no CapEff line in /proc/self/status");
        }
        std::vector<std::string> out;
        for (int i = 0; i <= last && i < known; ++i) {
            if (effective & (uint64_t{1} << i)) {
                out.push_back(names[i]);
            }
        }
        return out;
    }();
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
    // Bounding = effective = permitted, never inheritable or ambient (moby dropped
    // inheritable for CVE-2022-24769).
    const auto& caps = opts.insecure ? all_capabilities() : default_capabilities();
    json process = {
        {"terminal", false},
        {"user", user},
        {"args", opts.args},
        {"env", opts.env},
        {"cwd", opts.cwd},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        // Rlimits not asked for are inherited from kiln's (as BuildKit resets
        // them to its own).
        {"noNewPrivileges", false},
    };
    if (!opts.settings.ulimits.empty()) {
        json rlimits = json::array();
        for (const auto& r : opts.settings.ulimits)
            rlimits.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
        process["rlimits"] = rlimits;
    }
    const std::string shm_size = opts.settings.shm_size
                                     ? "size=" + std::to_string(opts.settings.shm_size)
                                     : std::string("size=65536k");

    json mounts = json::array({
        mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
        mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
        mount("/dev/pts", "devpts", "devpts",
              {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
        mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", shm_size}),
        mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
        // Writable only for an insecure step (BuildKit's oci.WithWriteableSysfs).
        opts.insecure ? mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "rw"})
                      : mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
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

    json linux = {{"namespaces", namespaces}};
    if (!opts.insecure) {
        linux["maskedPaths"] = masked_paths();
        linux["readonlyPaths"] = readonly_paths();
        // Translated against the bounding set, so rules that depend on a capability come out
        // as for Docker's default set. An insecure step runs unfiltered, as in BuildKit.
        if (json seccomp = default_seccomp(caps); !seccomp.is_null()) {
            linux["seccomp"] = std::move(seccomp);
        }
    }

    return json{
        {"ociVersion", "1.0.2"},
        {"process", process},
        {"root", {{"path", opts.rootfs.string()}, {"readonly", false}}},
        {"hostname", opts.hostname},
        {"mounts", mounts},
        {"linux", linux},
    };
}

}  // namespace kiln::sandbox
