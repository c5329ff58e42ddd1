#include "registry/platform.h"

#include <sys/utsname.h>

#include "base/error.h"

namespace kiln::registry {

namespace {

std::string default_variant(const std::string& arch) {
    if (arch == "arm64")
        return "v8";
    if (arch == "arm")
        return "v7";
    return "";
}

// Go's names for architectures, as image indexes use them.
std::string normalise_arch(const std::string& arch) {
    if (arch == "x86_64" || arch == "x86-64")
        return "amd64";
    if (arch == "aarch64")
        return "arm64";
    if (arch == "armhf" || arch == "armv7l")
        return "arm";
    if (arch == "i386" || arch == "i686")
        return "386";
    return arch;
}

}  // namespace

std::string PlatformSpec::str() const {
    return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

PlatformSpec buildkit_form(PlatformSpec p) {
    if (p.architecture == "arm64" && p.variant == "v8")
        p.variant.clear();
    return p;
}

PlatformSpec host_platform() {
    struct utsname u {};
    ::uname(&u);
    PlatformSpec p{"linux", normalise_arch(u.machine), ""};
    p.variant = default_variant(p.architecture);
    return p;
}

PlatformSpec parse_platform(const std::string& text) {
    PlatformSpec p;
    auto first = text.find('/');
    if (first == std::string::npos || first == 0 || first + 1 >= text.size())
        throw Error("invalid platform \"" + text + "\" (want os/arch[/variant])");
    p.os = text.substr(0, first);
    auto second = text.find('/', first + 1);
    p.architecture = normalise_arch(text.substr(first + 1, second - first - 1));
    if (second != std::string::npos) {
        p.variant = text.substr(second + 1);
        if (p.variant.empty() || p.variant.find('/') != std::string::npos)
            throw Error("invalid platform \"" + text + "\" (want os/arch[/variant])");
    }
    if (p.architecture.empty())
        throw Error("invalid platform \"" + text + "\" (want os/arch[/variant])");
    if (p.variant.empty())
        p.variant = default_variant(p.architecture);
    return p;
}

bool platform_matches(const content::Platform& entry, const PlatformSpec& want) {
    if (entry.os != want.os || normalise_arch(entry.architecture) != want.architecture)
        return false;
    const std::string v =
        entry.variant.empty() ? default_variant(want.architecture) : entry.variant;
    return v == want.variant;
}

}  // namespace kiln::registry
