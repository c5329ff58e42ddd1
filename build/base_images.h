// The images a build's FROM lines name: from the local store, pulled from
// their registries when the store lacks them (or, with --pull, always).
//
// Invariants: each reference is resolved once per build and platform
// (lowering asks first, with the stage's platform; "" = the host's); a failed pull is remembered
// and reported on the FROM line that needed it; a registry that cannot give a newer (or the other
// platform's) image leaves the local one in use, as docker build does. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/progress.h"
#include "content/image_store.h"
#include "content/lazy_layers.h"
#include "content/state_root.h"
#include "registry/client.h"
#include "registry/pull.h"
#include "snapshotter/snapshotter.h"

namespace kiln::build {

// PullOptions::unpack for pulls into a state root: each layer becomes the
// snapshot of `snaps` named by its chain ID (content/oci.h), the one a build's
// FROM looks for (solver/stage_state.h's layer_keys()).
registry::LayerUnpacker unpack_into(snapshotter::Snapshotter& snaps);

class BaseImages {
  public:
    BaseImages(const content::StateRoot& root, Progress& progress, registry::ClientOptions client,
               bool pull);

    // `ref` is, for each platform asked, the image `image` gives for it (called
    // once per platform, under this object's lock), never a store name or a
    // registry's: an oci-layout:// named context.
    using Pinned = std::function<content::Descriptor(const registry::PlatformSpec& platform)>;
    void pin(const std::string& ref, Pinned image);

    // nullopt: `scratch`, or not in the store and not pullable (why_missing says why).
    std::optional<content::StoredImage> resolve(const std::string& ref,
                                                const std::string& platform = "");
    // "cannot pull: <reason>" after a failed pull of `ref`, else "".
    std::string why_missing(const std::string& ref);

    // Pulls from here on are lazy (registry/pull.h): layers are fetched when
    // read. Used when the build imports a shared cache, whose hits may make
    // the base's bytes unnecessary.
    void set_lazy(content::LazyLayers* lazy) { lazy_ = lazy; }
    // Pulls from here on unpack each layer into `snaps` (keyed by its chain
    // ID, as solver/stage_state.h's layer_keys() names it) while it downloads.
    void set_unpack(snapshotter::Snapshotter* snaps) { unpack_ = snaps; }
    // Called as a pull begins (once per image pulled; empty: nothing), so a
    // build can get ready for the steps that will run on it meanwhile.
    void set_on_pull(std::function<void()> f) {
        std::lock_guard lock(mu_);
        on_pull_ = std::move(f);
    }
    // Names the lazily pulled images whose layers all came in during the
    // build, as an eager pull would have; the others stay unnamed.
    void name_complete();

  private:
    const content::StateRoot& root_;
    content::ImageStore images_;
    Progress& progress_;
    registry::ClientOptions client_;
    bool pull_;
    std::mutex mu_;
    // By (reference, platform).
    std::map<std::pair<std::string, std::string>, std::optional<content::StoredImage>> resolved_;
    std::map<std::string, std::string> pull_errors_;
    std::map<std::string, Pinned> pinned_;
    content::LazyLayers* lazy_ = nullptr;
    snapshotter::Snapshotter* unpack_ = nullptr;
    std::function<void()> on_pull_;
    std::vector<std::pair<std::string, content::Descriptor>> unnamed_;
};

}  // namespace kiln::build
