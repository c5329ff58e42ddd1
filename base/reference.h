// Image references as Docker and the distribution spec spell them:
// `name`, `name:tag`, `name@sha256:<hex>`, `host[:port]/path[:tag][@digest]`.
//
// Contract (distribution/reference's ParseNormalizedNamed):
//  - The first of several path components is a registry host only if it
//    contains '.' or ':', is "localhost", or has an upper-case letter (Docker's
//    splitDockerDomain); otherwise the host is docker.io. "index.docker.io" is
//    docker.io. Hosts are DNS names, IPv4 or "[IPv6]", with an optional ":port".
//  - On docker.io a one-component path gains "library/".
//  - Repository paths are lower case, components [a-z0-9]+ joined by '.',
//    '_', '__' or '-'+, separated by '/', at most 255 characters (the path
//    without the host, as distribution/reference counts it; on docker.io
//    that includes the "library/" it adds);
//    tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests are "sha256:" + 64
//    lower-case hex. A reference may carry both a tag and a digest.
//    No tag and no digest means the tag "latest".
//  - Errors throw kiln::Error `invalid <what> "TEXT": <why>`, <what> being
//    "reference" unless the caller names the role of the text ("tag" for a
//    `build -t` name, as buildx says `invalid tag "X": ...`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiln {

struct Reference {
    std::string domain;      // "docker.io", "localhost:5000", "ghcr.io"
    std::string repository;  // "library/busybox", "org/app"
    std::string tag;         // empty when only a digest was given
    // "sha256:" + 64 lower-case hex characters, when the reference names a digest.
    std::optional<std::string> digest;

    // The host kiln connects to: docker.io's API lives at registry-1.docker.io.
    // The environment variable KILN_DOCKER_IO_HOST (a test-only setting)
    // replaces that host, so Docker Hub-style names can be tested offline.
    std::string api_host() const;
    // What a manifest request names: the digest if any, else the tag.
    std::string manifest_ref() const;
    // Full form: "docker.io/library/busybox:latest", with "@digest" when set.
    std::string str() const;
    // The same reference with another tag/digest removed (for pushing a child by digest).
    // `digest` must be "sha256:" + 64 lower-case hex characters.
    Reference with_digest(const std::string& digest) const;
};

Reference parse_reference(const std::string& text, std::string_view what = "reference");

// Docker's familiar form (reference.FamiliarString): "docker.io/" left out, and
// "library/" too when one path component follows; then ":tag" and "@digest" as set.
// "docker.io/library/busybox:latest" → "busybox:latest", "docker.io/org/app:1" →
// "org/app:1", "ghcr.io/o/r:t@sha256:..." as it is.
std::string familiar_string(const Reference& ref);

// The name the local image store keeps a pulled reference under: the familiar form,
// "repo@sha256:..." when a digest is set (the digest wins over a tag, as in Docker's
// ParseDockerRef): "busybox:latest", "org/app:1", "ghcr.io/o/r@sha256:...".
std::string store_name(const Reference& ref);

}  // namespace kiln
