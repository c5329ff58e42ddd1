// The solver's running state of a stage and the helpers around it: how a
// stage's layers become snapshots, how keys are made, how a base image's
// history becomes the stage's first steps. Internal to solver/.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "content/blob_store.h"
#include "content/image_store.h"
#include "snapshotter/snapshotter.h"
#include "solver/solve.h"

namespace kiln::solver {

// The running state of one stage: what its image holds so far (the base's
// steps, then its own) and the cache key of its file system so far.
// Invariant: written only by the stage's own jobs, which run one after the
// other; other stages read it only after its last job (a dependency) ended.
struct StageState {
    std::optional<content::StoredImage> base_image;  // FROM <image>
    std::vector<StepOutcome> steps;
    size_t own_first = 0;            // index in `steps` of this stage's first own step
    content::Digest key;             // of the file system after the steps run so far
    bool last_missed = false;        // the stage's latest file-system step ran
    std::optional<size_t> last_job;  // the job that finishes the stage
};

// A layer under a step that cannot be unpacked (refused or damaged): reported on the
// stage's FROM line rather than on the step that first needed it.
class BaseLayerError : public Error {
  public:
    using Error::Error;
};

bool is_scratch(const std::string& base);

// The digest of a key's JSON (CBOR for names that are not UTF-8).
content::Digest key_of(const nlohmann::json& j);

// A layer's snapshot is named by its chain ID (content/oci.h), so equal
// layers at different heights — two RUNs that change the same thing — are
// different snapshots and a stack never repeats one.
using content::chain_id;

// The snapshots (bottom first) of `layers`, made from the store's blobs
// where missing.
std::vector<std::string> layer_keys(const std::vector<content::Descriptor>& layers,
                                    snapshotter::Snapshotter& snaps,
                                    const content::BlobStore& blobs);
// The snapshots of a stage's first `count` steps (all of them by default).
std::vector<std::string> layer_chain(const StageState& state, snapshotter::Snapshotter& snaps,
                                     const content::BlobStore& blobs,
                                     std::size_t count = static_cast<std::size_t>(-1));
// An image's layers, by diffID (the store keeps them uncompressed).
std::vector<content::Descriptor> image_layers(const content::StoredImage& image);

// For an overlay upper: an empty directory there is no change when the
// layers below hold the same directory (mode, owner, mtime) — it was only
// copied up because something was made and removed in it.
OmitDir unchanged_in(const std::vector<std::string>& parents,
                     const snapshotter::Snapshotter& snaps);

// A tar with no entry is only its end blocks: such a "layer" is dropped.
std::optional<content::Descriptor> nonempty(const content::BlobStore& blobs,
                                            const content::Descriptor& layer);

// A base image's history, each entry paired with the layer it made.
std::vector<StepOutcome> base_steps(const content::StoredImage& image);

// A metadata step (ENV, CMD, ...) has no record of its own: it takes the
// time of the file-system step before it (or after it, at the start of a
// stage), so cached rebuilds date it the same. `now` if there is none.
void date_metadata_steps(std::vector<StepOutcome>& steps, const std::string& now);

}  // namespace kiln::solver
