// Which CPU architectures this machine can run RUN steps for: its own, and
// those binfmt_misc hands to an emulator (Debian's qemu-user-static), as
// `docker buildx ls` lists a builder's platforms.
//
// An emulator is usable inside the sandbox only when registered with the F
// flag: the kernel then opens the interpreter once, at registration, and a
// container without that file in its root can still run foreign binaries.
// Registrations are found by name (qemu-<qemu's arch>, as qemu's
// binfmt.d files and tonistiigi/binfmt name them) and read from the
// binfmt_misc directory, which callers may replace (tests).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kiln::sandbox {

inline const std::filesystem::path kBinfmtMisc = "/proc/sys/fs/binfmt_misc";

struct ArchSupport {
    std::string architecture;  // OCI's (Go's) name: amd64, arm64, arm, 386, riscv64, ...
    bool native = false;
    // For an emulated one: the binfmt_misc entry and its interpreter.
    std::string entry;
    std::string interpreter;
    // Set when an entry exists but cannot serve a sandboxed RUN (disabled, or
    // registered without the F flag): why.
    std::string unusable;
};

// The host's architecture in OCI's names ("amd64" on x86-64).
std::string native_architecture();

// Every architecture this machine knows how to run: native ones first (an
// x86-64 host also runs 386), then the binfmt_misc entries for qemu, usable
// or not, in name order. A missing or unmounted `binfmt_misc` gives the
// native ones only.
std::vector<ArchSupport> supported_architectures(
    const std::filesystem::path& binfmt_misc = kBinfmtMisc);

// "" when a RUN for `architecture` can run here; otherwise one sentence
// saying why and what to do (which package, which registration).
std::string why_cannot_run(const std::string& architecture,
                           const std::filesystem::path& binfmt_misc = kBinfmtMisc);

}  // namespace kiln::sandbox
