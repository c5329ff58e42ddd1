// Turning a solved stage into an image in the state root's store.
//
// Contract: the solver has already put every layer in the store,
// uncompressed (named by its diffID); this writes the config, then the
// manifest — so when the manifest blob exists, everything it names exists.
// No name is set here: that is the image target's job. Equal solved images
// give equal digests (with SOURCE_DATE_EPOCH, the solver dates everything
// and clamps file mtimes to it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "content/oci.h"
#include "content/state_root.h"
#include "exporter/annotations.h"
#include "solver/solve.h"

namespace kiln::exporter {

struct CommittedImage {
    content::Descriptor manifest_descriptor;
    content::Manifest manifest;
    content::ImageConfig config;
};

// A multi-platform result: one committed image per platform and the OCI
// index over them, written to the store after them; entries in the order
// given, each with its image's platform (CommittedImage's descriptor has it).
// The index's own annotations (--annotation index:) are in `annotations`;
// its descriptor's (index-descriptor:) in descriptor.annotations, and each
// entry's (manifest-descriptor:) in its image's manifest_descriptor.
struct CommittedIndex {
    content::Descriptor descriptor;  // of the index
    std::vector<CommittedImage> images;
    std::map<std::string, std::string> annotations;
};
CommittedIndex commit_index(const content::StateRoot& root, std::vector<CommittedImage> images,
                            const Annotations& annotations = {});

// A step's diff tree as an uncompressed layer in the store (what the solver
// is given as its SolveDeps::write_layer).
content::Descriptor store_layer_tree(const content::StateRoot& root,
                                     const std::filesystem::path& tree, bool overlay_whiteouts,
                                     const solver::OmitDir& omit_empty_dir,
                                     std::optional<std::int64_t> source_date_epoch,
                                     const solver::LayerHints& hints = {});

// The history and "created" times are the solver's (see SolvePolicy::now).
// Layer sizes are the stored blobs'; a layer known only lazily keeps the size
// its record gave (build/ fetches layers first when an output names the image).
// `annotations`: the manifest's own (--annotation manifest:) and its
// descriptor's (manifest-descriptor:), for the image's platform.
CommittedImage commit_image(const content::StateRoot& root, const solver::SolvedImage& image,
                            const Annotations& annotations = {});

// The time a build dates what it makes: SOURCE_DATE_EPOCH when given, else now.
std::string build_time(std::optional<std::int64_t> source_date_epoch);

// Loads an image the store holds (manifest and config verified while read).
CommittedImage load_image(const content::StateRoot& root, const content::Descriptor& manifest);

// "2024-01-02T03:04:05Z" for a Unix time (RFC 3339, UTC).
std::string rfc3339(std::int64_t unix_seconds, long nanos = 0);

// SOURCE_DATE_EPOCH from the environment; kiln::Error when set but not a number.
std::optional<std::int64_t> source_date_epoch_from_env();

}  // namespace kiln::exporter
