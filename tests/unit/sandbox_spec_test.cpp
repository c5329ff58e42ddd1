// The runtime-spec config.json a RUN step gets: Docker's defaults, our mounts, our user.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

using kiln::sandbox::make_runtime_spec;
using kiln::sandbox::RunOptions;
using kiln::sandbox::SandboxError;
using nlohmann::json;

namespace {

RunOptions basic_options() {
    RunOptions o;
    o.rootfs = "/var/lib/kiln/snapshots/7/merged";
    o.args = {"/bin/sh", "-c", "echo hi"};
    o.env = {"PATH=/usr/bin:/bin", "A=b c"};
    o.cwd = "/src";
    o.user = {1000, 1000, {10, 2000}};
    o.work_dir = "/tmp/w";
    return o;
}

std::vector<std::string> strings(const json& j) {
    return j.get<std::vector<std::string>>();
}

const json* find_mount(const json& spec, const std::string& dest) {
    for (const auto& m : spec["mounts"]) {
        if (m["destination"] == dest) {
            return &m;
        }
    }
    return nullptr;
}

std::vector<std::string> namespace_types(const json& spec) {
    std::vector<std::string> out;
    for (const auto& n : spec["linux"]["namespaces"]) {
        out.push_back(n["type"]);
        EXPECT_FALSE(n.contains("path")) << "a namespace must be new, never joined";
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(SandboxSpec, ProcessRootAndHostname) {
    json s = make_runtime_spec(basic_options(), "/tmp/w/etc");
    EXPECT_EQ(s["ociVersion"], "1.0.2");
    EXPECT_EQ(s["root"]["path"], "/var/lib/kiln/snapshots/7/merged");
    EXPECT_EQ(s["root"]["readonly"], false);
    EXPECT_EQ(s["hostname"], "buildkitsandbox");
    const json& p = s["process"];
    EXPECT_EQ(p["terminal"], false);
    EXPECT_EQ(strings(p["args"]), (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
    EXPECT_EQ(strings(p["env"]), (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=b c"}));
    EXPECT_EQ(p["cwd"], "/src");
    EXPECT_EQ(p["user"]["uid"], 1000);
    EXPECT_EQ(p["user"]["gid"], 1000);
    EXPECT_EQ(p["user"]["additionalGids"], json({10, 2000}));
    EXPECT_EQ(p["noNewPrivileges"], false);
    EXPECT_FALSE(s["linux"].contains("resources"));
}

TEST(SandboxSpec, DockersDefaultCapabilities) {
    json s = make_runtime_spec(basic_options(), "/tmp/w/etc");
    const std::vector<std::string> docker = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    const json& caps = s["process"]["capabilities"];
    for (const char* set : {"bounding", "effective", "permitted"}) {
        EXPECT_EQ(strings(caps[set]), docker) << set;
    }
    // Never inheritable or ambient (moby dropped inheritable for CVE-2022-24769).
    EXPECT_FALSE(caps.contains("inheritable"));
    EXPECT_FALSE(caps.contains("ambient"));
    for (const auto& c : caps["bounding"]) {
        EXPECT_NE(c, "CAP_SYS_ADMIN");
    }
}

TEST(SandboxSpec, NamespacesFollowTheNetworkMode) {
    RunOptions o = basic_options();
    // The default: a network namespace of its own, holding only loopback.
    EXPECT_EQ(namespace_types(make_runtime_spec(o, "/e")),
              (std::vector<std::string>{"ipc", "mount", "network", "pid", "uts"}));
    o.network = RunOptions::Network::host;
    EXPECT_EQ(namespace_types(make_runtime_spec(o, "/e")),
              (std::vector<std::string>{"ipc", "mount", "pid", "uts"}));
    o.network = RunOptions::Network::private_ns;
    EXPECT_THROW(make_runtime_spec(o, "/e"), SandboxError);  // needs the namespace's path
    o.netns_path = "/run/x/netns";
    auto spec = make_runtime_spec(o, "/e");
    bool joined = false;
    for (const auto& ns : spec["linux"]["namespaces"])
        joined |= ns["type"] == "network" && ns.value("path", "") == "/run/x/netns";
    EXPECT_TRUE(joined) << spec["linux"]["namespaces"].dump();
}

TEST(SandboxSpec, StandardMountsInOrderThenTheCallers) {
    RunOptions o = basic_options();
    o.mounts.push_back({"/cache", "bind", "/var/lib/kiln/cache/x", {"rbind", "rw"}});
    o.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid", "size=1m"}});
    json s = make_runtime_spec(o, "/tmp/w/etc");
    std::vector<std::string> dests;
    for (const auto& m : s["mounts"]) {
        dests.push_back(m["destination"]);
    }
    EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm",
                                               "/dev/mqueue", "/sys", "/etc/resolv.conf",
                                               "/etc/hosts", "/etc/hostname", "/cache", "/tmp"}));

    const json* proc = find_mount(s, "/proc");
    EXPECT_EQ((*proc)["type"], "proc");
    const json* dev = find_mount(s, "/dev");
    EXPECT_EQ((*dev)["type"], "tmpfs");
    auto dev_opts = strings((*dev)["options"]);
    EXPECT_NE(std::find(dev_opts.begin(), dev_opts.end(), "mode=755"), dev_opts.end());
    EXPECT_NE(std::find(dev_opts.begin(), dev_opts.end(), "size=65536k"), dev_opts.end());
    EXPECT_EQ((*find_mount(s, "/dev/pts"))["type"], "devpts");
    EXPECT_EQ((*find_mount(s, "/dev/shm"))["type"], "tmpfs");
    EXPECT_EQ((*find_mount(s, "/dev/mqueue"))["type"], "mqueue");
    const json* sys = find_mount(s, "/sys");
    EXPECT_EQ((*sys)["type"], "sysfs");
    auto sys_opts = strings((*sys)["options"]);
    EXPECT_NE(std::find(sys_opts.begin(), sys_opts.end(), "ro"), sys_opts.end());

    for (const char* name : {"resolv.conf", "hosts", "hostname"}) {
        const json* m = find_mount(s, std::string("/etc/") + name);
        ASSERT_NE(m, nullptr);
        EXPECT_EQ((*m)["type"], "bind");
        EXPECT_EQ((*m)["source"], std::string("/tmp/w/etc/") + name);
        auto opts = strings((*m)["options"]);
        EXPECT_NE(std::find(opts.begin(), opts.end(), "ro"), opts.end()) << name;
    }
    const json* cache = find_mount(s, "/cache");
    EXPECT_EQ((*cache)["source"], "/var/lib/kiln/cache/x");
    EXPECT_EQ(strings((*cache)["options"]), (std::vector<std::string>{"rbind", "rw"}));
}

TEST(SandboxSpec, MaskedAndReadonlyPathsAsDocker) {
    json s = make_runtime_spec(basic_options(), "/e");
    auto masked = strings(s["linux"]["maskedPaths"]);
    for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                          "/proc/acpi", "/sys/firmware"}) {
        EXPECT_NE(std::find(masked.begin(), masked.end(), p), masked.end()) << p;
    }
    auto ro = strings(s["linux"]["readonlyPaths"]);
    for (const char* p : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"}) {
        EXPECT_NE(std::find(ro.begin(), ro.end(), p), ro.end()) << p;
    }
}

TEST(SandboxSpec, NoAdditionalGidsKeyWhenThereAreNone) {
    RunOptions o = basic_options();
    o.user = {};
    json s = make_runtime_spec(o, "/e");
    EXPECT_EQ(s["process"]["user"], json({{"uid", 0}, {"gid", 0}}));
}

TEST(SandboxSpec, RefusesWhatNoRuntimeCouldRun) {
    RunOptions o = basic_options();
    o.rootfs = "relative/root";
    EXPECT_THROW(make_runtime_spec(o, "/e"), SandboxError);
    o = basic_options();
    o.args.clear();
    EXPECT_THROW(make_runtime_spec(o, "/e"), SandboxError);
    o = basic_options();
    o.cwd = "src";
    EXPECT_THROW(make_runtime_spec(o, "/e"), SandboxError);
    o = basic_options();
    o.mounts.push_back({"cache", "bind", "/x", {"rbind"}});
    EXPECT_THROW(make_runtime_spec(o, "/e"), SandboxError);
}

TEST(SandboxSpec, DefaultStepRunsUnderTheDefaultSeccompProfile) {
    json s = make_runtime_spec(basic_options(), "/e");
    ASSERT_TRUE(s["linux"].contains("seccomp"));
    const json& seccomp = s["linux"]["seccomp"];
    EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    EXPECT_FALSE(seccomp["syscalls"].empty());
    // Translated for the capabilities the process gets (Docker's default set).
    EXPECT_EQ(seccomp,
              kiln::sandbox::default_seccomp(strings(s["process"]["capabilities"]["bounding"])));
    EXPECT_EQ(s["process"]["noNewPrivileges"], false);
}

TEST(SandboxSpec, InsecureStepGetsEveryCapabilityNoSeccompAndNothingMasked) {
    RunOptions o = basic_options();
    o.insecure = true;
    json s = make_runtime_spec(o, "/e");
    EXPECT_FALSE(s["linux"].contains("seccomp"));
    EXPECT_FALSE(s["linux"].contains("maskedPaths"));
    EXPECT_FALSE(s["linux"].contains("readonlyPaths"));

    // Every capability of the running kernel that has a name (CAP_CHECKPOINT_RESTORE = 40 is
    // the last one named so far) and that this process holds (a runtime cannot grant more).
    int last = -1;
    std::ifstream("/proc/sys/kernel/cap_last_cap") >> last;
    ASSERT_GE(last, 37) << "cap_last_cap";
    unsigned long long held = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("CapEff:", 0) == 0)
            held = std::stoull(line.substr(7), nullptr, 16);
    size_t expected = 0;
    for (int i = 0; i <= std::min(last, 40); ++i)
        expected += (held >> i) & 1;
    const json& caps = s["process"]["capabilities"];
    auto bounding = strings(caps["bounding"]);
    EXPECT_EQ(bounding.size(), expected);
    if (::geteuid() == 0) {
        // Those Docker's set leaves out (kiln as root holds them, as in CI).
        for (const char* c : {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_NET_ADMIN"})
            EXPECT_NE(std::find(bounding.begin(), bounding.end(), c), bounding.end()) << c;
    }
    EXPECT_EQ(strings(caps["effective"]), bounding);
    EXPECT_EQ(strings(caps["permitted"]), bounding);
    EXPECT_FALSE(caps.contains("inheritable"));
    EXPECT_FALSE(caps.contains("ambient"));
    EXPECT_EQ(s["process"]["noNewPrivileges"], false);

    auto sys_opts = strings((*find_mount(s, "/sys"))["options"]);
    EXPECT_EQ(std::find(sys_opts.begin(), sys_opts.end(), "ro"), sys_opts.end());
    EXPECT_NE(std::find(sys_opts.begin(), sys_opts.end(), "rw"), sys_opts.end());
    // The rest of the sandbox stays: own namespaces, the read-only /etc files.
    EXPECT_EQ(namespace_types(s), namespace_types(make_runtime_spec(basic_options(), "/e")));
    auto hosts = strings((*find_mount(s, "/etc/hosts"))["options"]);
    EXPECT_NE(std::find(hosts.begin(), hosts.end(), "ro"), hosts.end());
}

}  // namespace
