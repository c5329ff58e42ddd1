// The platforms of a build: the one it runs on (BUILDPLATFORM) and the one it
// builds for (TARGETPLATFORM, from --platform), in BuildKit's form
// (registry::buildkit_form: "linux/arm64", "linux/arm/v7"); and whether this
// machine can run a stage's RUN steps for its platform, natively or under
// emulation (sandbox/emulation.h). `kiln platforms` lists the latter
// (build/machine_platforms.h).
#pragma once

#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "registry/platform.h"

namespace kiln::build {

struct Platforms {
    registry::PlatformSpec build;
    registry::PlatformSpec target;
    bool foreign = false;  // the target is not this machine's platform
};

// One per target platform, from --platform's values in the order given (a
// repeated one once; none = this machine's). Throws kiln::Error for a
// malformed one.
std::vector<Platforms> platforms_of(const std::vector<std::string>& requested);

// Throws kiln::Error naming the first RUN line ("Dockerfile:3: RUN for
// linux/arm64 cannot run here: ...", with what to install) of the first stage
// `plan` needs whose platform this machine cannot run. Stages without RUN
// need nothing, whatever their platform.
void check_runnable(const frontend::BuildPlan& plan, const Platforms& platforms,
                    const std::string& dockerfile_name);

}  // namespace kiln::build
