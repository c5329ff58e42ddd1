// `kiln platforms`: what this machine can build RUN steps for, as
// `docker buildx ls` lists a builder's platforms.
#pragma once

#include <string>
#include <vector>

namespace kiln::build {

struct MachinePlatform {
    std::string platform;  // "linux/arm64", "linux/arm/v7"
    bool native = false;
    std::string emulator;  // the interpreter binfmt_misc starts, when emulated
    std::string unusable;  // why an emulated one cannot serve RUN ("" = it can)
};

// Native platforms first, then each qemu registration in binfmt_misc.
std::vector<MachinePlatform> machine_platforms();

}  // namespace kiln::build
