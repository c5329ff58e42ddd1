// kiln's state root: an OCI image layout (oci-layout, index.json, blobs/) with
// kiln's own folders beside it (snapshots/, cache/, tmp/, locks/).
//
// Several kiln processes may open one root at once; opening is idempotent and
// every file it creates is created atomically.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "content/blob_store.h"

namespace kiln::content {

// The root to use: `flag` if given, else $KILN_ROOT, else /var/lib/kiln for
// root, else $XDG_DATA_HOME/kiln (~/.local/share/kiln when unset).
std::filesystem::path resolve_state_root(const std::optional<std::string>& flag);

class StateRoot {
  public:
    // Creates the layout if it is missing. Throws kiln::Error when the path
    // cannot be used (not a directory, no permission).
    explicit StateRoot(std::filesystem::path path);

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path tmp() const { return path_ / "tmp"; }
    std::filesystem::path locks() const { return path_ / "locks"; }
    std::filesystem::path snapshots() const { return path_ / "snapshots"; }
    std::filesystem::path cache() const { return path_ / "cache"; }
    const BlobStore& blobs() const { return blobs_; }
    // Layers this process fetches on first read (one build's shared-cache hits
    // and lazily resolved base images); the caller keeps `lazy` alive.
    void set_lazy_layers(const LazyLayers* lazy) { blobs_.set_lazy(lazy); }

  private:
    std::filesystem::path path_;
    BlobStore blobs_;
    std::shared_ptr<const void> owner_;  // content/owner.h
};

}  // namespace kiln::content
