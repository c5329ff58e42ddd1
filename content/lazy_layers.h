// Layers a build knows by digest but whose bytes are elsewhere: a step found
// in a shared cache (--cache-from), or a base image resolved without its
// layers. The bytes are fetched only when something reads them.
//
// Contract:
//  - A LazyLayers belongs to one build; `fetch` (injected: content/ knows no
//    registry) brings one blob into the store, verified, or throws.
//  - ensure() is thread-safe and fetches each blob at most once: concurrent
//    callers for the same blob wait for the first; different blobs fetch in
//    parallel. A failed fetch is not remembered, so a later call tries again.
//  - A layer is known by its diffID (the uncompressed tar the store keeps)
//    and by its compressed digest (the blob a registry or layout holds).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "content/blob_store.h"
#include "content/oci.h"

namespace kiln::content {

// Where a layer's compressed blob lives: a registry repository, or an OCI
// layout directory on this machine (--cache-from type=local).
struct RemoteLayer {
    Descriptor compressed;  // media type, digest, size as the source holds it
    Digest diff_id;
    std::int64_t diff_size = -1;  // the uncompressed size, -1 when not known
    std::string variant;          // content/layer_twins.h's compression variant
    std::string domain, repository;
    std::filesystem::path layout;  // set instead of domain/repository
};

class LazyLayers {
  public:
    // Brings `digest` (the layer's compressed digest, or its diffID) into the
    // store; `layer` says where it lives.
    using Fetch = std::function<void(const RemoteLayer& layer, const Digest& digest)>;
    explicit LazyLayers(Fetch fetch) : fetch_(std::move(fetch)) {}

    // The first source given for a diffID is kept.
    void add(const RemoteLayer& layer);
    std::optional<RemoteLayer> by_diff_id(const Digest& diff_id) const;
    std::optional<RemoteLayer> by_compressed(const Digest& digest) const;
    bool knows(const Digest& digest) const;

    // Makes `digest` present in `store` if this knows it; true when it is
    // present afterwards.
    bool ensure(const BlobStore& store, const Digest& digest) const;

  private:
    Fetch fetch_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::map<Digest, RemoteLayer> by_diff_id_;
    std::map<Digest, Digest> compressed_to_diff_id_;
    mutable std::set<Digest> in_flight_;
};

}  // namespace kiln::content
