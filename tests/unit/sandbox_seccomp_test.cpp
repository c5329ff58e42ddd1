// The seccomp filter of a RUN step: a Docker-format profile translated into the runtime
// spec's linux.seccomp by moby's rules (setupSeccomp), first on small inline profiles, one
// rule at a time, then on the real profile (the host's, or kiln's built-in copy).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

using kiln::sandbox::default_seccomp;
using kiln::sandbox::embedded_seccomp_profile;
using kiln::sandbox::kSeccompProfilePath;
using kiln::sandbox::load_seccomp_profile;
using kiln::sandbox::SandboxError;
using kiln::sandbox::SeccompHost;
using kiln::sandbox::translate_seccomp_profile;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Docker's default capability set, as spec.cpp gives a RUN step.
const std::vector<std::string> kDockerCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

SeccompHost host(std::string arch = "amd64", unsigned kernel = 6, unsigned major = 1) {
    SeccompHost h;
    h.arch = std::move(arch);
    h.kernel = kernel;
    h.major = major;
    return h;
}

// A profile with one rule per entry of `rules` (each naming the syscall "s<i>").
json profile_with(std::vector<json> rules) {
    json p = {{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", json::array()}};
    for (size_t i = 0; i < rules.size(); ++i) {
        json r = rules[i];
        if (!r.contains("names") && !r.contains("name"))
            r["names"] = {"s" + std::to_string(i)};
        if (!r.contains("action"))
            r["action"] = "SCMP_ACT_ALLOW";
        p["syscalls"].push_back(r);
    }
    return p;
}

// The names of the syscalls of the rules kept.
std::vector<std::string> kept(const json& seccomp) {
    std::vector<std::string> out;
    if (!seccomp.contains("syscalls"))
        return out;
    for (const auto& r : seccomp["syscalls"])
        for (const auto& n : r["names"])
            out.push_back(n);
    return out;
}

std::vector<std::string> with(std::vector<std::string> caps, const std::string& more) {
    caps.push_back(more);
    return caps;
}

// The rules naming `syscall` (translated form).
std::vector<json> rules_for(const json& seccomp, const std::string& syscall) {
    std::vector<json> out;
    for (const auto& r : seccomp.value("syscalls", json::array())) {
        const auto& names = r["names"];
        if (std::find(names.begin(), names.end(), syscall) != names.end())
            out.push_back(r);
    }
    return out;
}

// In some SCMP_ACT_ALLOW rule, with or without argument conditions.
bool in_allow_rule(const json& seccomp, const std::string& syscall) {
    for (const auto& r : rules_for(seccomp, syscall))
        if (r["action"] == "SCMP_ACT_ALLOW")
            return true;
    return false;
}

// In an SCMP_ACT_ALLOW rule without argument conditions.
bool allowed_whatever_the_args(const json& seccomp, const std::string& syscall) {
    for (const auto& r : rules_for(seccomp, syscall))
        if (r["action"] == "SCMP_ACT_ALLOW" && !r.contains("args"))
            return true;
    return false;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class TempFile {
  public:
    explicit TempFile(const std::string& content) {
        char tmpl[] = "/tmp/kiln-seccomp-test-XXXXXX";
        int fd = ::mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        path_ = tmpl;
        ::close(fd);
        std::ofstream(path_, std::ios::binary) << content;
    }
    ~TempFile() { fs::remove(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// ---------------------------------------------------------------------------------------
// The translation rules, on inline profiles

TEST(SeccompTranslate, ArchitecturesAreTheHostsArchMapEntryWithItsSubArchitectures) {
    json p = profile_with({json::object()});
    p["archMap"] = {
        {{"architecture", "SCMP_ARCH_X86_64"},
         {"subArchitectures", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}}},
        {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}},
        {{"architecture", "SCMP_ARCH_S390X"}, {"subArchitectures", {"SCMP_ARCH_S390"}}},
    };
    EXPECT_EQ(translate_seccomp_profile(p, kDockerCaps, host("amd64"))["architectures"],
              json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
    EXPECT_EQ(translate_seccomp_profile(p, kDockerCaps, host("arm64"))["architectures"],
              json({"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
    EXPECT_EQ(translate_seccomp_profile(p, kDockerCaps, host("s390x"))["architectures"],
              json({"SCMP_ARCH_S390X", "SCMP_ARCH_S390"}));
    // No entry for the host (or an arch moby does not know): the runtime's native one.
    EXPECT_FALSE(
        translate_seccomp_profile(p, kDockerCaps, host("ppc64le")).contains("architectures"));
    EXPECT_FALSE(translate_seccomp_profile(p, kDockerCaps, host("")).contains("architectures"));
}

TEST(SeccompTranslate, AnExplicitArchitecturesListIsKeptButNotBesideAnArchMap) {
    json p = profile_with({json::object()});
    p["architectures"] = {"SCMP_ARCH_X86_64"};
    EXPECT_EQ(translate_seccomp_profile(p, kDockerCaps, host())["architectures"],
              json({"SCMP_ARCH_X86_64"}));
    p["archMap"] = {{{"architecture", "SCMP_ARCH_X86_64"}, {"subArchitectures", json::array()}}};
    EXPECT_THROW(translate_seccomp_profile(p, kDockerCaps, host()), SandboxError);
}

TEST(SeccompTranslate, IncludedCapsMustAllBeInTheBoundingSet) {
    json p = profile_with({
        {{"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"includes", {{"caps", {"CAP_SYS_CHROOT"}}}}},
        {{"includes", {{"caps", {"CAP_SYS_CHROOT", "CAP_SYS_PTRACE"}}}}},
        {{"includes", json::object()}},
    });
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host())),
              (std::vector<std::string>{"s1", "s3"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, with(kDockerCaps, "CAP_SYS_PTRACE"), host())),
              (std::vector<std::string>{"s1", "s2", "s3"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, with(kDockerCaps, "CAP_SYS_ADMIN"), host())),
              (std::vector<std::string>{"s0", "s1", "s3"}));
}

TEST(SeccompTranslate, AnyExcludedCapInTheBoundingSetDropsTheRule) {
    json p = profile_with({
        {{"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"excludes", {{"caps", {"CAP_SYS_PTRACE", "CAP_SYS_CHROOT"}}}}},
        {{"excludes", json::object()}},
    });
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host())),
              (std::vector<std::string>{"s0", "s2"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, with(kDockerCaps, "CAP_SYS_ADMIN"), host())),
              (std::vector<std::string>{"s2"}));
    // An empty capability set keeps every rule that only excludes caps.
    EXPECT_EQ(kept(translate_seccomp_profile(p, {}, host())),
              (std::vector<std::string>{"s0", "s1", "s2"}));
}

TEST(SeccompTranslate, ArchesAreMatchedByTheHostsNativeName) {
    json p = profile_with({
        {{"includes", {{"arches", {"amd64", "x32"}}}}},
        {{"includes", {{"arches", {"arm", "arm64"}}}}},
        {{"excludes", {{"arches", {"s390", "s390x"}}}}},
    });
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64"))),
              (std::vector<std::string>{"s0", "s2"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("arm64"))),
              (std::vector<std::string>{"s1", "s2"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("s390x"))),
              (std::vector<std::string>{}));
}

TEST(SeccompTranslate, MinKernelComparesKernelThenMajor) {
    json p = profile_with({
        {{"includes", {{"minKernel", "4.8"}}}},
        {{"excludes", {{"minKernel", "5.3"}}}},
    });
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64", 4, 7))),
              (std::vector<std::string>{"s1"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64", 4, 8))),
              (std::vector<std::string>{"s0", "s1"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64", 4, 20))),
              (std::vector<std::string>{"s0", "s1"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64", 5, 3))),
              (std::vector<std::string>{"s0"}));
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host("amd64", 6, 0))),
              (std::vector<std::string>{"s0"}));

    json bad = profile_with({{{"includes", {{"minKernel", "four"}}}}});
    try {
        translate_seccomp_profile(bad, kDockerCaps, host(), "seccomp profile /x.json");
        FAIL() << "no error for a bad minKernel";
    } catch (const SandboxError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "seccomp profile /x.json: syscalls[0].includes: invalid kernel version "
                  "\"four\", expected \"<kernel>.<major>\"");
    }
}

TEST(SeccompTranslate, ErrnoRetAndDefaultErrnoRetAreCarriedOver) {
    json p = profile_with({
        {{"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}, {"errno", "EPERM"}},
        {{"action", "SCMP_ACT_ERRNO"}},
        {{"comment", "no errnoRet"}},
    });
    p["defaultErrnoRet"] = 38;
    p["defaultErrno"] = "ENOSYS";  // a note for readers some profiles carry; not in the spec
    json s = translate_seccomp_profile(p, kDockerCaps, host());
    EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
    EXPECT_EQ(s["defaultErrnoRet"], 38);
    EXPECT_FALSE(s.contains("defaultErrno"));
    EXPECT_EQ(s["syscalls"][0],
              json({{"names", {"s0"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}));
    EXPECT_EQ(s["syscalls"][1], json({{"names", {"s1"}}, {"action", "SCMP_ACT_ERRNO"}}));
    EXPECT_EQ(s["syscalls"][2], json({{"names", {"s2"}}, {"action", "SCMP_ACT_ALLOW"}}));

    p.erase("defaultErrnoRet");
    EXPECT_FALSE(translate_seccomp_profile(p, kDockerCaps, host()).contains("defaultErrnoRet"));
}

TEST(SeccompTranslate, ArgsAreCarriedOverAsTheRuntimeSpecHasThem) {
    json p = profile_with({
        {{"args",
          {{{"index", 0}, {"value", 2114060288}, {"valueTwo", 0}, {"op", "SCMP_CMP_MASKED_EQ"}},
           {{"index", 2}, {"value", 9}, {"valueTwo", 3}, {"op", "SCMP_CMP_NE"}}}}},
        {{"args", nullptr}},
        {{"args", json::array()}},
    });
    json s = translate_seccomp_profile(p, kDockerCaps, host());
    EXPECT_EQ(s["syscalls"][0]["args"],
              json({{{"index", 0}, {"value", 2114060288}, {"op", "SCMP_CMP_MASKED_EQ"}},
                    {{"index", 2}, {"value", 9}, {"valueTwo", 3}, {"op", "SCMP_CMP_NE"}}}));
    EXPECT_FALSE(s["syscalls"][1].contains("args"));
    EXPECT_FALSE(s["syscalls"][2].contains("args"));
}

// Docker's own profile (moby's default.json) makes clone arg-conditional for a process
// without CAP_SYS_ADMIN: allowed only when no namespace flag is set.
TEST(SeccompTranslate, DockersCloneRuleComesOutAsDockers) {
    const uint64_t namespace_flags = 0x7E020000;  // CLONE_NEWNS|NEWCGROUP|NEWUTS|...|NEWNET
    json p = profile_with({
        {{"names", {"clone", "unshare", "mount"}}, {"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"names", {"clone"}},
         {"args", {{{"index", 0}, {"value", namespace_flags}, {"op", "SCMP_CMP_MASKED_EQ"}}}},
         {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}, {"arches", {"s390", "s390x"}}}}},
        {{"names", {"clone"}},
         {"args", {{{"index", 1}, {"value", namespace_flags}, {"op", "SCMP_CMP_MASKED_EQ"}}}},
         {"includes", {{"arches", {"s390", "s390x"}}}},
         {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"names", {"clone3"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"errnoRet", 38},
         {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
    });
    json s = translate_seccomp_profile(p, kDockerCaps, host("amd64"));
    ASSERT_EQ(s["syscalls"].size(), 2u) << s.dump(2);
    EXPECT_EQ(s["syscalls"][0],
              json({{"names", {"clone"}},
                    {"action", "SCMP_ACT_ALLOW"},
                    {"args",
                     {{{"index", 0}, {"value", namespace_flags}, {"op", "SCMP_CMP_MASKED_EQ"}}}}}));
    EXPECT_EQ(s["syscalls"][1]["errnoRet"], 38);
    EXPECT_FALSE(in_allow_rule(s, "unshare"));
    EXPECT_FALSE(in_allow_rule(s, "mount"));

    json admin = translate_seccomp_profile(p, with(kDockerCaps, "CAP_SYS_ADMIN"), host("amd64"));
    EXPECT_TRUE(allowed_whatever_the_args(admin, "clone"));
    EXPECT_TRUE(allowed_whatever_the_args(admin, "unshare"));
    EXPECT_EQ(rules_for(admin, "clone").size(), 1u);
    EXPECT_TRUE(rules_for(admin, "clone3").empty());
}

TEST(SeccompTranslate, NameOrNamesButNotBoth) {
    json p = profile_with({{{"name", "getpid"}}});
    EXPECT_EQ(kept(translate_seccomp_profile(p, kDockerCaps, host())),
              (std::vector<std::string>{"getpid"}));
    p["syscalls"][0]["names"] = {"gettid"};
    EXPECT_THROW(translate_seccomp_profile(p, kDockerCaps, host()), SandboxError);
}

TEST(SeccompTranslate, FlagsAreCarriedOver) {
    json p = profile_with({json::object()});
    p["flags"] = {"SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
    EXPECT_EQ(translate_seccomp_profile(p, kDockerCaps, host())["flags"],
              json({"SECCOMP_FILTER_FLAG_SPEC_ALLOW"}));
}

TEST(SeccompTranslate, NoDefaultActionAndNoSyscallsIsNoFilter) {
    EXPECT_TRUE(translate_seccomp_profile(json::object(), kDockerCaps, host()).is_null());
    EXPECT_TRUE(translate_seccomp_profile(json({{"syscalls", json::array()}}), kDockerCaps, host())
                    .is_null());
    json allow_all = {{"defaultAction", "SCMP_ACT_ALLOW"}};
    EXPECT_EQ(translate_seccomp_profile(allow_all, kDockerCaps, host()), allow_all);
}

TEST(SeccompTranslate, AProfileOfTheWrongShapeIsAnErrorNamingItsSource) {
    auto message = [](const json& p) {
        try {
            translate_seccomp_profile(p, kDockerCaps, host(), "seccomp profile /etc/p.json");
        } catch (const SandboxError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message(json::array()), "seccomp profile /etc/p.json: must be a JSON object");
    EXPECT_EQ(message({{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", 3}}),
              "seccomp profile /etc/p.json: \"syscalls\" must be a list");
    EXPECT_EQ(message(profile_with({{{"names", "read"}}})),
              "seccomp profile /etc/p.json: syscalls[0]: \"names\" must be a list of strings");
    EXPECT_EQ(message(profile_with({{{"errnoRet", -1}}})),
              "seccomp profile /etc/p.json: syscalls[0]: \"errnoRet\" must be a non-negative "
              "integer");
    EXPECT_EQ(message(profile_with({{{"args", {{{"index", 0}, {"value", 1}}}}}})),
              "seccomp profile /etc/p.json: syscalls[0].args[0]: \"op\" is missing");
}

// ---------------------------------------------------------------------------------------
// Loading

TEST(SeccompLoad, AMissingFileIsNothing) {
    EXPECT_FALSE(load_seccomp_profile("/nonexistent/kiln/seccomp.json").has_value());
}

TEST(SeccompLoad, AFileThatIsNotJsonIsAnErrorNamingIt) {
    TempFile f("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n");
    try {
        load_seccomp_profile(f.path());
        FAIL() << "no error";
    } catch (const SandboxError& e) {
        std::string m = e.what();
        EXPECT_EQ(m.rfind("seccomp profile " + f.path().string() + " is not valid JSON: ", 0), 0u)
            << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_EQ(m.find("[json.exception"), std::string::npos) << m;
    }
}

TEST(SeccompLoad, AValidFileIsParsed) {
    TempFile f("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}");
    auto p = load_seccomp_profile(f.path());
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ((*p)["defaultAction"], "SCMP_ACT_ALLOW");
}

// ---------------------------------------------------------------------------------------
// The real profile

TEST(SeccompProfile, TheEmbeddedCopyIsTheThirdPartyFileAndTheInstalledOne) {
    const fs::path third_party =
        fs::path(KILN_TESTDATA_DIR) / ".." / "third_party/moby/seccomp-default.json";
    EXPECT_EQ(embedded_seccomp_profile(), slurp(third_party));
    json embedded = json::parse(embedded_seccomp_profile());
    EXPECT_EQ(embedded["defaultAction"], "SCMP_ACT_ERRNO");
    if (!fs::exists(kSeccompProfilePath))
        GTEST_SKIP() << kSeccompProfilePath
                     << " is not installed (golang-github-docker-docker-dev)";
    auto installed = load_seccomp_profile(kSeccompProfilePath);
    ASSERT_TRUE(installed.has_value());
    EXPECT_EQ(embedded, *installed)
        << "third_party/moby/seccomp-default.json is not the installed profile: copy it "
           "again (see third_party/moby/README.md)";
}

class RealProfile : public ::testing::Test {
  protected:
    json seccomp = default_seccomp(kDockerCaps);
};

TEST_F(RealProfile, RefusesWhatItDoesNotList) {
    EXPECT_EQ(seccomp["defaultAction"], "SCMP_ACT_ERRNO");  // EPERM: no defaultErrnoRet
    if (SeccompHost::current().arch == "amd64") {
        EXPECT_EQ(seccomp["architectures"],
                  json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
        // clone3 answers ENOSYS, so that glibc falls back to clone and its flag checks.
        auto clone3 = rules_for(seccomp, "clone3");
        ASSERT_EQ(clone3.size(), 1u) << json(clone3).dump(2);
        EXPECT_EQ(clone3[0]["action"], "SCMP_ACT_ERRNO");
        EXPECT_EQ(clone3[0]["errnoRet"], 38);
    }
    for (const char* s : {"add_key", "request_key", "keyctl", "kexec_load", "open_by_handle_at"})
        EXPECT_FALSE(in_allow_rule(seccomp, s)) << s;
}

TEST_F(RealProfile, AllowsOrdinarySyscalls) {
    for (const char* s :
         {"read", "write", "openat", "execve", "exit_group", "chown", "mknod", "setuid", "socket"})
        EXPECT_TRUE(in_allow_rule(seccomp, s)) << s;
    // Allowed because CAP_SYS_CHROOT is in Docker's default set.
    EXPECT_TRUE(allowed_whatever_the_args(seccomp, "chroot"));
    // Allowed on kernels from 4.8 on, which check ptrace against seccomp themselves (as
    // Docker).
    EXPECT_TRUE(allowed_whatever_the_args(seccomp, "ptrace"));
}

// Docker's rules for a process without CAP_SYS_ADMIN: no new namespaces (clone only
// without the namespace flags), no unshare, setns, mount, umount2, pivot_root or bpf.
TEST_F(RealProfile, NamespacesMountsAndBpfNeedCapSysAdmin) {
    for (const char* s : {"unshare", "setns", "mount", "umount2", "pivot_root", "bpf",
                          "perf_event_open", "quotactl", "sethostname", "fanotify_init"})
        EXPECT_FALSE(in_allow_rule(seccomp, s)) << s;
    auto clone = rules_for(seccomp, "clone");
    ASSERT_EQ(clone.size(), 1u) << json(clone).dump(2);
    EXPECT_EQ(clone[0]["action"], "SCMP_ACT_ALLOW");
    ASSERT_TRUE(clone[0].contains("args"));
    EXPECT_EQ(clone[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    EXPECT_FALSE(allowed_whatever_the_args(seccomp, "clone"));
    for (const char* s : {"init_module", "acct", "kcmp", "iopl", "settimeofday", "vhangup"})
        EXPECT_FALSE(in_allow_rule(seccomp, s)) << s;

    // With those capabilities the same profile allows them.
    json all = default_seccomp(with(with(kDockerCaps, "CAP_SYS_ADMIN"), "CAP_SYS_PTRACE"));
    for (const char* s : {"bpf", "unshare", "mount", "kcmp"})
        EXPECT_TRUE(allowed_whatever_the_args(all, s)) << s;
}

}  // namespace
