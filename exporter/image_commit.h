// Turning a solved stage into an image in the state root's store.
//
// Contract: layers are written uncompressed (named by their diffID, media
// type application/vnd.oci.image.layer.v1.tar), then the config, then the
// manifest — so when the manifest blob exists, everything it names exists.
// No name is set here: that is the image target's job. With
// SOURCE_DATE_EPOCH, "created" (config and history) and file mtimes newer
// than it are clamped to it, so equal inputs give equal digests.
#pragma once

#include <cstdint>
#include <optional>

#include "content/oci.h"
#include "content/state_root.h"
#include "solver/solve.h"

namespace kiln::exporter {

struct CommittedImage {
    content::Descriptor manifest_descriptor;
    content::Manifest manifest;
    content::ImageConfig config;
};

CommittedImage commit_image(const content::StateRoot& root, const solver::SolvedImage& image,
                            std::optional<std::int64_t> source_date_epoch);

// Loads an image the store holds (manifest and config verified while read).
CommittedImage load_image(const content::StateRoot& root, const content::Descriptor& manifest);

// "2024-01-02T03:04:05Z" for a Unix time (RFC 3339, UTC).
std::string rfc3339(std::int64_t unix_seconds, long nanos = 0);

// SOURCE_DATE_EPOCH from the environment; kiln::Error when set but not a number.
std::optional<std::int64_t> source_date_epoch_from_env();

}  // namespace kiln::exporter
