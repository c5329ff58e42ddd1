// Pushing what the store holds to a registry: a manifest (or an index and
// its manifests) and every blob they name.
//
// Contract:
//  - The manifest must already be in registry form (compressed layers, as
//    the exporter's registry target makes it); its blobs are pushed as they
//    are, so the registry's digest is the store's.
//  - Per blob: skipped when the repository has it (HEAD); mounted from
//    another repository of the same registry known to hold it
//    (registry/blob_sources.h); otherwise uploaded. Blobs go in parallel;
//    manifests go after all their blobs, children before an index.
//  - The tag (or, with by_digest, only the digest) is set last, so a failed
//    push never leaves a tag naming an incomplete image.
#pragma once

#include <functional>
#include <string>

#include "base/reference.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "registry/client.h"

namespace kiln::registry {

struct PushOptions {
    ClientOptions client;
    int jobs = 4;            // blobs uploaded at once
    bool by_digest = false;  // push-by-digest=true: no tag
    std::function<void(const std::string&)> log;
};

struct PushStats {
    int uploaded = 0;
    int mounted = 0;
    int existing = 0;
};

struct PushResult {
    content::Digest digest;  // of the top manifest, as the registry has it
    std::int64_t size = 0;
    PushStats stats;
};

PushResult push_image(const content::StateRoot& root, const content::Descriptor& manifest,
                      const Reference& ref, const PushOptions& options);

}  // namespace kiln::registry
