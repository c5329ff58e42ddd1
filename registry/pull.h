// `kiln pull` and FROM's pulls: an image from a registry into the store.
//
// Contract:
//  - The manifest is resolved by tag or digest; an index (OCI or Docker
//    manifest list) is narrowed to the entry for PullOptions::platform.
//  - Every blob is verified against its digest while it streams in, and each
//    layer also gets its uncompressed twin (named by the diffID the config
//    lists, verified), since builds work on uncompressed layers.
//  - One pass (PullOptions::unpack): a layer that is downloaded is
//    decompressed into its twin and handed to the unpacker as it arrives
//    (registry/layer_stream.h); nothing is read back from the disk. Should
//    that stream break (a restarted download, damaged bytes), the layer
//    falls back to decompressing the stored blob, with that path's errors.
//  - Nothing is downloaded twice: a layer whose twin and compressed blob the
//    store already has is skipped, and a manifest whose digest the name
//    already points at is "up to date".
//  - Order: layers, then config, then the manifest (and index) blobs, then
//    the name. A pull that fails or is killed leaves the name as it was and
//    no record pointing at a missing blob.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/reference.h"
#include "content/lazy_layers.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "registry/client.h"
#include "registry/layer_stream.h"
#include "registry/platform.h"

namespace kiln::registry {

// Unpacks layer `index` of the image whose config lists `diff_ids` from `read`.
using LayerUnpacker = std::function<void(
    std::size_t index, const std::vector<content::Digest>& diff_ids, const LayerReader& read)>;

struct PullOptions {
    ClientOptions client;
    std::optional<PlatformSpec> platform;         // default: the host's
    int jobs = 3;                                 // layers downloaded at once (as dockerd)
    std::function<void(const std::string&)> log;  // progress lines, optional
    // Lazy pull (a build with --cache-from): layers the store lacks are
    // registered here instead of downloaded, and the name is not set (the
    // manifest and config are stored; the caller names the image once its
    // layers are all in the store).
    content::LazyLayers* lazy = nullptr;
    // One-pass pulls: when set, each layer the pull downloads is also given,
    // while it downloads, to unpack(i, diff_ids, read) on a thread of its own:
    // layer i of the image whose config lists `diff_ids`, `read` yielding its
    // tar and ending (0) only once the layer verified (layer_stream.h). Its
    // errors are not the pull's.
    LayerUnpacker unpack;
};

struct PullResult {
    std::string name;                             // as the store names it
    content::Descriptor descriptor;               // the platform's manifest, as the store holds it
    std::optional<content::Digest> index_digest;  // when the reference named an index
    bool up_to_date = false;                      // the name already pointed at this manifest
    bool named = false;                           // the store names it now
};

PullResult pull_image(const content::StateRoot& root, const Reference& ref,
                      const PullOptions& options);

}  // namespace kiln::registry
