// RUN's seccomp filter and RUN --security=insecure, as a step sees them: a small static C
// probe (built here with `gcc -static`) is COPYed into a busybox image and RUN by the real
// kiln binary on runc. It reads Seccomp: from /proc/self/status and tries, each in a child
// of its own, what a container must not do: create a user namespace, mount a tmpfs, join a
// new session keyring, ptrace-attach a child, load a BPF program (garbage: EINVAL, E2BIG or
// the like once past the filter and the capability checks; EPERM when refused), and add a
// key (a syscall the profile does not list). One line per try: "probe:mount=EPERM".
//
// Default RUN (Docker's profile, Docker's capabilities): Seccomp 2; a user namespace,
// mount, keyctl, bpf and add_key refused (EPERM). ptrace of its own child is allowed, as
// under Docker (the profile allows ptrace on kernels from 4.8 on, which check it
// themselves).
// RUN --security=insecure with --allow security.insecure: Seccomp 0 and nothing refused.
//
// Needs root, runc, gcc with a static libc (libc6-dev) and Debian's busybox-static.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.h"
#include "sandbox/seccomp.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

constexpr const char* kProbeSource = R"probe(
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* errno_name(int e) {
    switch (e) {
        case EPERM: return "EPERM";
        case ENOSYS: return "ENOSYS";
        case EINVAL: return "EINVAL";
        case EACCES: return "EACCES";
        case E2BIG: return "E2BIG";
        case EFAULT: return "EFAULT";
        case ENOSPC: return "ENOSPC";
        case ENOENT: return "ENOENT";
        case EUSERS: return "EUSERS";
        case ESRCH: return "ESRCH";
        case EDQUOT: return "EDQUOT";
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "errno%d", e);
    return buf;
}

static void report(const char* what, long rc) {
    if (rc >= 0)
        printf("probe:%s=ok\n", what);
    else
        printf("probe:%s=%s\n", what, errno_name(errno));
}

static long try_unshare(void) { return unshare(CLONE_NEWUSER); }

static long try_mount(void) {
    mkdir("/probe-mnt", 0755);
    long rc = mount("none", "/probe-mnt", "tmpfs", 0, NULL);
    int e = errno;
    if (rc == 0)
        umount("/probe-mnt");
    rmdir("/probe-mnt");
    errno = e;
    return rc;
}

static long try_keyctl(void) {
    return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0L, 0L, 0L, 0L);
}

static long try_ptrace(void) {
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    if (child < 0)
        return -1;
    long rc = ptrace(PTRACE_ATTACH, child, 0, 0);
    int e = errno;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    errno = e;
    return rc;
}

static long try_bpf(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_KPROBE; /* not one an unprivileged process may load */
    attr.insn_cnt = 0;                     /* garbage: no program at all */
    return syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

static long try_add_key(void) {
    return syscall(SYS_add_key, "user", "kiln-probe", "x", 1L, (long)KEY_SPEC_PROCESS_KEYRING);
}

/* Each try in a child of its own, so that one (a new user namespace, a keyring) cannot
   change the next. */
static void try(const char* what, long (*fn)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        errno = 0;
        report(what, fn());
        fflush(stdout);
        _exit(0);
    }
    if (p < 0) {
        printf("probe:%s=fork-failed\n", what);
        return;
    }
    waitpid(p, NULL, 0);
}

int main(void) {
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        int mode;
        if (sscanf(line, "Seccomp: %d", &mode) == 1)
            printf("probe:seccomp=%d\n", mode);
    }
    if (f)
        fclose(f);
    try("unshare", try_unshare);
    try("mount", try_mount);
    try("keyctl", try_keyctl);
    try("ptrace", try_ptrace);
    try("bpf", try_bpf);
    try("add_key", try_add_key);
    printf("probe:done\n");
    return 0;
}
)probe";

// The probe's results ("unshare" → "EPERM") from kiln's progress output.
std::map<std::string, std::string> probe_results(const std::string& output) {
    std::map<std::string, std::string> out;
    std::istringstream in(output);
    std::string line;
    while (std::getline(in, line)) {
        auto at = line.find("probe:");
        if (at == std::string::npos)
            continue;
        std::string kv = line.substr(at + 6);
        auto eq = kv.find('=');
        if (eq == std::string::npos) {
            out[kv] = "";
            continue;
        }
        out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return out;
}

std::string table(const std::map<std::string, std::string>& results) {
    std::string s;
    for (const auto& [k, v] : results)
        s += "  " + k + "=" + v + "\n";
    return s;
}

bool refused(const std::string& result) {
    return result == "EPERM" || result == "ENOSYS" || result == "EACCES";
}

// Whether a RUN step's filter (Docker's default caps) refuses `syscall` whatever its
// arguments: no allow rule names it.
bool filter_refuses(const std::string& syscall) {
    const std::vector<std::string> docker_caps = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    json seccomp = kiln::sandbox::default_seccomp(docker_caps);
    for (const auto& r : seccomp.value("syscalls", json::array())) {
        const auto& names = r["names"];
        if (r["action"] == "SCMP_ACT_ALLOW" &&
            std::find(names.begin(), names.end(), syscall) != names.end())
            return false;
    }
    return seccomp["defaultAction"] != "SCMP_ACT_ALLOW";
}

class Seccomp : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        if (!have_tool("gcc"))
            GTEST_SKIP() << "needs gcc to build the probe";
        write(dir / "probe.c", kProbeSource);
        fs::create_directories(dir / "app");
        auto cc = run({"gcc", "-static", "-O1", "-o", (dir / "app/probe").string(),
                       (dir / "probe.c").string()});
        if (cc.exit_code != 0)
            GTEST_SKIP() << "gcc -static cannot build the probe (is libc6-dev installed?): "
                         << cc.err;

        root = dir / "root";
        auto r = build_busybox_base(root, dir / "base");
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    // Builds app/ with this Dockerfile (no cache, plain progress); the probe's results.
    std::map<std::string, std::string> probe(const std::string& dockerfile,
                                             std::vector<std::string> extra = {}) {
        write(dir / "app/Dockerfile", dockerfile);
        std::vector<std::string> args = {"build", "--no-cache", "--progress", "plain"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back((dir / "app").string());
        last = run_kiln(root, args);
        return probe_results(last.err + last.out);
    }

    Scratch dir;
    fs::path root;
    Result last;
};

TEST_F(Seccomp, DefaultRunIsFilteredAndRefusedWhatAContainerMustNotDo) {
    auto r = probe("FROM base:1\nCOPY probe /probe\nRUN /probe\n");
    ASSERT_EQ(last.exit_code, 0) << joined(last);
    ASSERT_EQ(r.count("done"), 1u) << "the probe did not finish:\n" << joined(last);
    const std::string got = "probe results:\n" + table(r);

    EXPECT_EQ(r["seccomp"], "2") << got;  // SECCOMP_MODE_FILTER
    // The filter's EPERM, where a bare kernel would check the arguments first (EINVAL).
    for (const char* s : {"unshare", "mount", "keyctl", "bpf", "add_key"}) {
        EXPECT_EQ(r[s], "EPERM") << s << "\n" << got;
        EXPECT_TRUE(filter_refuses(s)) << s;
    }
    EXPECT_EQ(r["ptrace"], "ok") << got;
}

TEST_F(Seccomp, InsecureRunIsUnfilteredAndPermitted) {
    auto r = probe("FROM base:1\nCOPY probe /probe\nRUN --security=insecure /probe\n",
                   {"--allow", "security.insecure"});
    ASSERT_EQ(last.exit_code, 0) << joined(last);
    ASSERT_EQ(r.count("done"), 1u) << "the probe did not finish:\n" << joined(last);
    const std::string got = "probe results:\n" + table(r);

    EXPECT_EQ(r["seccomp"], "0") << got;
    for (const char* s : {"mount", "keyctl", "ptrace", "add_key"})
        EXPECT_EQ(r[s], "ok") << s << "\n" << got;
    // A host may cap user namespaces (ENOSPC with user.max_user_namespaces=0), but never
    // refuses CAP_SYS_ADMIN.
    EXPECT_FALSE(refused(r["unshare"])) << got;
    // Past the filter and the capability checks, the kernel refuses the garbage itself.
    EXPECT_FALSE(refused(r["bpf"])) << got;
    EXPECT_NE(r["bpf"], "ok") << got;
}

}  // namespace
