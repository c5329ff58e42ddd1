// Image references as Docker and the distribution spec spell them:
// `name`, `name:tag`, `name@sha256:<hex>`, `host[:port]/path[:tag][@digest]`.
//
// Contract:
//  - The first path component is a registry host only if it contains '.' or
//    ':' or is "localhost" (Docker's rule); otherwise the host is docker.io.
//  - On docker.io a one-component path gains "library/".
//  - Repository paths are lower case, components [a-z0-9]+ joined by '.',
//    '_', '__' or '-'+, separated by '/'; tags match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};
//    digests are "sha256:" + 64 lower-case hex. No tag and no digest means "latest".
//  - Errors throw kiln::Error whose message names the reference as given.
#pragma once

#include <optional>
#include <string>

#include "content/digest.h"

namespace kiln::registry {

struct Reference {
    std::string domain;      // "docker.io", "localhost:5000", "ghcr.io"
    std::string repository;  // "library/busybox", "org/app"
    std::string tag;         // empty when only a digest was given
    std::optional<content::Digest> digest;

    // The host kiln connects to: docker.io's API lives at registry-1.docker.io.
    // The environment variable KILN_DOCKER_IO_HOST (a test-only setting)
    // replaces that host, so Docker Hub-style names can be tested offline.
    std::string api_host() const;
    // What a manifest request names: the digest if any, else the tag.
    std::string manifest_ref() const;
    // Full form: "docker.io/library/busybox:latest", with "@digest" when set.
    std::string str() const;
    // The same reference with another tag/digest removed (for pushing a child by digest).
    Reference with_digest(const content::Digest& d) const;
};

Reference parse_reference(const std::string& text);

// The key Docker uses for a registry in config.json "auths"
// ("https://index.docker.io/v1/" for docker.io, the host otherwise).
std::string credential_key(const std::string& domain);

}  // namespace kiln::registry
