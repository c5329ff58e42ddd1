// The platforms of a build: the one it runs on (BUILDPLATFORM) and the one it
// builds for (TARGETPLATFORM, from --platform), in BuildKit's form
// (registry::buildkit_form: "linux/arm64", "linux/arm/v7"); and whether this
// machine can run a stage's RUN steps for its platform, natively or under
// emulation (sandbox/emulation.h). `kiln platforms` lists the latter
// (build/machine_platforms.h).
#pragma once

#include <functional>
#include <optional>
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

// The platform of the image `ref` as a stage asking for `platform` ("" = the
// default) gets it: its config's os, architecture and variant; nullopt when
// it is not known (scratch, not found, a config that names none).
using ImagePlatform = std::function<std::optional<registry::PlatformSpec>(
    const std::string& ref, const std::string& platform)>;

// As BuildKit's InvalidBaseImagePlatform: a warning ("Dockerfile:1:
// InvalidBaseImagePlatform: Base image X was pulled with platform
// "linux/arm64", expected "linux/amd64" for current build") for each stage
// `plan` needs that starts from an image of another platform than the one the
// stage builds for (a store or registry holding only that one).
std::vector<std::string> base_platform_warnings(const frontend::BuildPlan& plan,
                                                const Platforms& platforms,
                                                const std::string& dockerfile_name,
                                                const ImagePlatform& image_platform);

// Throws kiln::Error naming the first RUN line ("Dockerfile:3: RUN for
// linux/arm64 cannot run here: ...", with what to install) of the first stage
// `plan` needs whose platform this machine cannot run. A stage's RUN steps
// run the binaries of the image it starts from, so that image's platform
// (`image_platform`, when it knows it) counts over the stage's. Stages
// without RUN need nothing, whatever their platform.
void check_runnable(const frontend::BuildPlan& plan, const Platforms& platforms,
                    const std::string& dockerfile_name, const ImagePlatform& image_platform = {});

}  // namespace kiln::build
