#include "build/machine_platforms.h"

#include "registry/platform.h"
#include "sandbox/emulation.h"

namespace kiln::build {

std::vector<MachinePlatform> machine_platforms() {
    std::vector<MachinePlatform> out;
    for (const auto& a : sandbox::supported_architectures()) {
        registry::PlatformSpec p{"linux", a.architecture, ""};
        if (a.architecture == "arm")
            p.variant = "v7";  // what --platform linux/arm means
        out.push_back({p.str(), a.native, a.interpreter, a.unusable});
    }
    return out;
}

}  // namespace kiln::build
