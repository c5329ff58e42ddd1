#include "sandbox/emulation.h"

#include <sys/utsname.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace kiln::sandbox {

namespace fs = std::filesystem;

namespace {

// OCI's architecture names and qemu's (the suffix of its binfmt_misc entries).
constexpr std::pair<const char*, const char*> kQemuNames[] = {
    {"amd64", "x86_64"},        {"386", "i386"},        {"arm64", "aarch64"}, {"arm", "arm"},
    {"riscv64", "riscv64"},     {"ppc64le", "ppc64le"}, {"ppc64", "ppc64"},   {"s390x", "s390x"},
    {"mips64le", "mips64el"},   {"mips64", "mips64"},   {"mipsle", "mipsel"}, {"mips", "mips"},
    {"loong64", "loongarch64"},
};

std::string qemu_name(const std::string& architecture) {
    for (const auto& [oci, qemu] : kQemuNames)
        if (architecture == oci)
            return qemu;
    return "";
}

std::string oci_name(const std::string& qemu) {
    for (const auto& [oci, q] : kQemuNames)
        if (qemu == q)
            return oci;
    return "";
}

std::vector<std::string> native_architectures() {
    const std::string host = native_architecture();
    if (host == "amd64")
        return {"amd64", "386"};
    return {host};
}

// One binfmt_misc entry as the kernel shows it: "enabled", "interpreter PATH",
// "flags: POCF", then offset, magic and mask.
ArchSupport read_entry(const fs::path& file, const std::string& architecture) {
    ArchSupport a;
    a.architecture = architecture;
    a.entry = file.string();
    std::ifstream in(file);
    std::string line, flags;
    bool enabled = false;
    while (std::getline(in, line)) {
        if (line == "enabled")
            enabled = true;
        else if (line.starts_with("interpreter "))
            a.interpreter = line.substr(12);
        else if (line.starts_with("flags: "))
            flags = line.substr(7);
    }
    if (!enabled)
        a.unusable = file.string() + " is disabled";
    else if (flags.find('F') == std::string::npos)
        a.unusable = file.string() +
                     " is registered without the F flag, so its interpreter is not found "
                     "inside the sandbox";
    return a;
}

bool binfmt_enabled(const fs::path& binfmt_misc) {
    std::ifstream in(binfmt_misc / "status");
    std::string s;
    return std::getline(in, s) && s == "enabled";
}

}  // namespace

std::string native_architecture() {
    struct utsname u {};
    ::uname(&u);
    const std::string m = u.machine;
    if (m == "x86_64")
        return "amd64";
    if (m == "aarch64")
        return "arm64";
    if (m.starts_with("armv"))
        return "arm";
    if (m == "i686" || m == "i386")
        return "386";
    if (auto oci = oci_name(m); !oci.empty())
        return oci;
    return m;
}

std::vector<ArchSupport> supported_architectures(const fs::path& binfmt_misc) {
    std::vector<ArchSupport> out;
    for (const auto& arch : native_architectures())
        out.push_back(ArchSupport{arch, true, "", "", ""});
    if (!binfmt_enabled(binfmt_misc))
        return out;
    std::vector<ArchSupport> emulated;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(binfmt_misc, ec)) {
        const std::string name = e.path().filename().string();
        if (!name.starts_with("qemu-"))
            continue;
        const std::string arch = oci_name(name.substr(5));
        if (arch.empty() || std::any_of(out.begin(), out.end(), [&](const ArchSupport& a) {
                return a.architecture == arch;
            }))
            continue;
        emulated.push_back(read_entry(e.path(), arch));
    }
    std::sort(emulated.begin(), emulated.end(),
              [](const ArchSupport& a, const ArchSupport& b) { return a.entry < b.entry; });
    out.insert(out.end(), emulated.begin(), emulated.end());
    return out;
}

std::string why_cannot_run(const std::string& architecture, const fs::path& binfmt_misc) {
    const auto all = supported_architectures(binfmt_misc);
    for (const auto& a : all)
        if (a.architecture == architecture && a.unusable.empty())
            return "";
    std::string natives;
    for (const auto& a : all)
        if (a.native)
            natives += (natives.empty() ? "" : ", ") + a.architecture;
    const std::string qemu = qemu_name(architecture);
    if (qemu.empty())
        return "this machine runs " + natives + " natively and kiln knows no emulator for " +
               architecture;
    for (const auto& a : all)
        if (a.architecture == architecture)
            return a.unusable + ": register qemu-" + qemu +
                   " again with the F flag (Debian's qemu-user-static does: "
                   "/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-" +
                   qemu + ".conf)";
    std::error_code ec;
    const std::string mount =
        fs::exists(binfmt_misc / "register", ec)
            ? ""
            : "mount -t binfmt_misc binfmt_misc " + binfmt_misc.string() + "; ";
    return "this machine runs " + natives + " natively and has no emulator for " + architecture +
           " registered in binfmt_misc: install Debian's qemu-user-static and register it (" +
           mount + "/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-" + qemu + ".conf)";
}

}  // namespace kiln::sandbox
