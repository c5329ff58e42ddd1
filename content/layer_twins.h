// The compressed twins of uncompressed layers: the store keeps each layer
// uncompressed, named by its diffID, and remembers which compressed blob
// holds the same tar, so an output or a push never compresses a layer twice
// and a layer pulled from a registry is pushed back as the very blob it was.
//
// A record is cache/compressed/<variant>/<diffID hex> → {"digest","size"},
// where <variant> names the compression and level ("gzip--1" is gzip at its
// default level, as is a gzip layer pulled from a registry).
//
// Invariants: a record is written only after the blob it names is complete
// in the store; a record whose blob is gone (or has another size) is not
// returned, so a damaged or stale record costs a recompression, never a bad
// output.
#pragma once

#include <optional>
#include <string>

#include "content/blob_store.h"
#include "content/state_root.h"

namespace kiln::content {

// The variant a layer of this media type is recorded under at its format's
// default level ("gzip--1", "zstd--1"), or "" for an uncompressed layer.
std::string default_variant_of(const std::string& layer_media_type);

std::optional<BlobInfo> find_layer_twin(const StateRoot& root, const Digest& diff_id,
                                        const std::string& variant);
void record_layer_twin(const StateRoot& root, const Digest& diff_id, const std::string& variant,
                       const BlobInfo& compressed);

}  // namespace kiln::content
