// Compressed layers, made once: the store keeps layers uncompressed (named
// by diffID) and a compressed copy is made only when an output or a push
// needs it; content/layer_twins.h records (diffID, compression, level) →
// compressed blob, so no layer is compressed twice for the same target and a
// pulled layer goes back out as the registry's own blob.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "content/oci.h"
#include "content/state_root.h"
#include "exporter/compression.h"

namespace kiln::exporter {

// The twin variant of a compression ("gzip--1": gzip at its default level).
std::string variant_of(const CompressionOptions& c);

// Where a layer's compressed bytes may also go while they are made (a push
// streams them to the registry). A CopyOpener is called once per layer that
// is compressed now (not for twins found made); `write` sees every byte in
// order, `done` the stored blob once it is whole. The copy is destroyed
// without `done` when compressing fails. Neither may throw.
struct CompressedCopy {
    Sink write;
    std::function<void(const content::BlobInfo& blob)> done;
};
using CopyOpener = std::function<CompressedCopy()>;

// `layers` are uncompressed layer descriptors of the store; returns their
// compressed twins (in the same order), compressing the missing ones in
// parallel. Media types follow `oci`. A layer the store knows lazily
// (content/lazy_layers.h) as a blob of the same variant is that blob, not
// downloaded; otherwise its bytes are read (fetched) and compressed.
std::vector<content::Descriptor> compressed_layers(const content::StateRoot& root,
                                                   const std::vector<content::Descriptor>& layers,
                                                   const CompressionOptions& compression, bool oci,
                                                   const CopyOpener& copy = {});

}  // namespace kiln::exporter
