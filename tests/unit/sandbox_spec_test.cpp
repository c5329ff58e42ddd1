// The runtime-spec config.json a RUN step gets: Docker's defaults, our mounts, our user.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"

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
    EXPECT_EQ(namespace_types(make_runtime_spec(o, "/e")),
              (std::vector<std::string>{"ipc", "mount", "pid", "uts"}));
    o.network = RunOptions::Network::none;
    EXPECT_EQ(namespace_types(make_runtime_spec(o, "/e")),
              (std::vector<std::string>{"ipc", "mount", "network", "pid", "uts"}));
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

}  // namespace
