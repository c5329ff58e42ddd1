// A real Debian bookworm base for the integration tests (merged /usr: /bin, /sbin and /lib
// are links into /usr, /var/run is a link to /run), made with
// `debootstrap --variant=minbase bookworm` from the mirror apt is configured with, once per
// machine: the result is a docker-archive tar cached under /var/cache/kiln-tests/ (built
// in a temporary directory there and renamed into place, so a half-made base is never
// used; an flock makes concurrent test processes wait for the one that builds it).
//
// Also the helper that writes such an archive from layer tars, which other tests use for
// images no builder would make.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace kiln::test {

struct BookwormBase {
    // A docker-archive holding one image, tagged bookworm:test (one layer, numeric
    // owners, extended attributes kept). Set when the base is usable.
    std::filesystem::path archive;
    // Set when the base cannot be made on this machine (not root, no debootstrap, mirror
    // unreachable): tests GTEST_SKIP() with it.
    std::string skip_reason;
    // Set when making the base failed for another reason: tests fail with it.
    std::string error;
    // How this process got the base: "cached", or what making it took.
    std::string timing;
};

// The base, made on first use (minutes: debootstrap downloads about 40 MB) and cached
// between runs; remembered for the rest of the process.
const BookwormBase& bookworm_base();

// Writes a docker-archive (the `docker save` format: manifest.json, a config, one
// directory per layer) at `out` holding one linux image named `tag`, whose layers are
// the given uncompressed tars, bottom first. Returns "" on success, else what went wrong.
std::string write_docker_archive(const std::vector<std::filesystem::path>& layer_tars,
                                 const std::string& tag, const std::filesystem::path& out);

}  // namespace kiln::test
