// Writing a build's step records to its --cache-to destinations, in kiln's
// cache format (remote_cache/cache_format.h): one manifest whose config holds
// the records and whose layers are their blobs.
//
// Contract:
//  - mode=min exports the records of the steps whose layers are in the image
//    (the target stage and the stages it is built FROM); mode=max every step
//    the build ran or hit, of every stage.
//  - type=registry pushes the blobs (skipped when there, mounted when the
//    registry holds them in another repository, fetched only when neither:
//    a lazily known layer is not downloaded to be re-exported to its own
//    registry), then the config, then the manifest under the ref's tag.
//    image-manifest=true (the default) makes an image manifest with an image
//    config media type, which every registry takes; false an OCI 1.1
//    artifact (artifactType application/vnd.kiln.cache.v1+json).
//  - type=local adds the blobs it lacks to the OCI layout at dest, then
//    rewrites index.json (atomically) naming the manifest by tag= ("latest"),
//    keeping other tags.
//  - A failing export throws kiln::Error naming the destination, unless the
//    spec says ignore-error=true: then it is a warning.
//  - type=inline is not exported here: build/ puts inline_records() in the
//    image config before the image is committed.
#pragma once

#include <vector>

#include "base/progress.h"
#include "content/state_root.h"
#include "registry/client.h"
#include "remote_cache/cache_spec.h"
#include "solver/solve.h"

namespace kiln::remote_cache {

void export_caches(const std::vector<CacheSpec>& to,
                   const std::vector<solver::SolvedRecord>& records, const content::StateRoot& root,
                   const registry::ClientOptions& client, Progress& progress);

// The "kiln.cache" value for an image whose layers have `image_diff_ids`
// (bottom first): the records of the image's own steps, layers by index.
nlohmann::json inline_records(const std::vector<solver::SolvedRecord>& records,
                              const std::vector<content::Digest>& image_diff_ids);

}  // namespace kiln::remote_cache
