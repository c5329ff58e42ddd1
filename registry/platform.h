// Platforms as OCI indexes name them ("linux/arm64/v8"), and the choice of
// an index entry for one, as containerd's default matcher makes it.
#pragma once

#include <string>

#include "content/oci.h"

namespace kiln::registry {

struct PlatformSpec {
    std::string os;
    std::string architecture;
    std::string variant;  // normalised: arm64 → "v8" when empty, arm → "v7"
    std::string str() const;
};

// `p` as containerd's platforms.Normalize leaves it, the form BuildKit gives
// TARGETPLATFORM, TARGETVARIANT and image configs: arm64's default variant
// (v8) left out, every other variant kept ("linux/arm64", "linux/arm/v7").
PlatformSpec buildkit_form(PlatformSpec p);

// This machine's platform ("linux/amd64" on x86-64).
PlatformSpec host_platform();
// "os/arch[/variant]"; throws kiln::Error naming the text when malformed.
PlatformSpec parse_platform(const std::string& text);
// Whether an index entry's platform serves `want` (missing variants take
// their architecture's default, so "linux/arm64" matches "linux/arm64/v8").
bool platform_matches(const content::Platform& entry, const PlatformSpec& want);

}  // namespace kiln::registry
