// The seccomp filter of a RUN step: Docker's (and BuildKit's) default profile (moby's
// profiles/seccomp/default.json, as Debian's golang-github-docker-docker-dev installs it),
// translated into the runtime spec's linux.seccomp the way moby's profiles/seccomp
// (setupSeccomp) translates it. (Not podman's /usr/share/containers/seccomp.json: Debian
// 12's allows unshare, namespace clones, mount and keyctl outright; see
// third_party/moby/README.md.) The translation:
//   - architectures: the archMap entry of the host's architecture and its sub-architectures
//     (or the profile's own "architectures" list);
//   - a syscall rule is kept only when its includes hold (every cap of includes.caps in the
//     process's bounding set, the host's arch in includes.arches, the running kernel at least
//     includes.minKernel) and its excludes do not (no cap of excludes.caps in the bounding
//     set, the host's arch not in excludes.arches, the kernel below excludes.minKernel);
//   - defaultAction, defaultErrnoRet, flags, and each kept rule's names, action, errnoRet and
//     args are carried over as they are.
// The profile is data, read at run time (once per process); a copy of it is built into kiln
// for hosts without the file (third_party/moby/).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::sandbox {

// Where Debian's golang-github-docker-docker-dev installs it.
inline constexpr const char* kSeccompProfilePath =
    "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json";

// What the includes/excludes of a profile are checked against besides the capabilities.
struct SeccompHost {
    // The architecture in the profile's (libseccomp's) native names: "amd64", "arm64",
    // "x86", "arm", "ppc64le", "s390x", "riscv64", ...; "" when unknown (then no archMap
    // entry matches and rules with includes.arches are dropped, as in moby).
    std::string arch;
    // The running kernel as "major.minor" compares (moby's KernelVersion).
    unsigned kernel = 0, major = 0;

    // kiln's own architecture (what it was compiled for, as moby uses runtime.GOARCH) and
    // the running kernel's release (uname).
    static SeccompHost current();
};

// linux.seccomp for a process whose bounding capability set is `bounding_caps`, from a
// profile in Docker's format; null when the profile disables seccomp (no defaultAction and
// no syscalls, as in moby). A profile that is not of that format (wrong types, "name" and
// "names" in one rule, "architectures" and "archMap" together, a minKernel that is not
// "N.M") is a SandboxError whose message starts with `source` (the file, for the user).
nlohmann::json translate_seccomp_profile(const nlohmann::json& profile,
                                         const std::vector<std::string>& bounding_caps,
                                         const SeccompHost& host,
                                         const std::string& source = "seccomp profile");

// The profile at `path`: nothing when there is no file there; a SandboxError naming the file
// when it cannot be read or is not JSON.
std::optional<nlohmann::json> load_seccomp_profile(const std::filesystem::path& path);

// The copy of third_party/moby/seccomp-default.json built into kiln (its bytes).
std::string_view embedded_seccomp_profile();

// linux.seccomp for a RUN step with these bounding capabilities: the host's profile at
// kSeccompProfilePath when it exists, else the embedded copy; read and parsed once per
// process (a broken host file is reported again on every call, never silently replaced).
nlohmann::json default_seccomp(const std::vector<std::string>& bounding_caps);

}  // namespace kiln::sandbox
