// The records a build imported from its --cache-from sources, looked up by
// key after the local cache misses (solver::SolveDeps::shared_cache).
//
// Contract: import_caches() never fails a build for a source: one that is
// missing, unreachable, refuses access or is not a kiln cache is a warning
// ("cache import from REF: why") and gives nothing. Importing transfers
// manifests and configs only; each record's layer is registered with `lazy`
// (content/lazy_layers.h) and fetched only when something reads it. When two
// sources hold a key, the first listed wins.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "base/progress.h"
#include "content/lazy_layers.h"
#include "content/state_root.h"
#include "registry/client.h"
#include "remote_cache/cache_spec.h"
#include "solver/cache_store.h"

namespace kiln::remote_cache {

class SharedCache {
  public:
    std::optional<solver::CacheRecord> get(const content::Digest& key) const;
    std::vector<solver::CacheRecord> all() const;
    std::size_t size() const { return records_.size(); }
    void add(const content::Digest& key, solver::CacheRecord record);  // first one wins

  private:
    std::map<content::Digest, solver::CacheRecord> records_;
};

SharedCache import_caches(const std::vector<CacheSpec>& from, const content::StateRoot& root,
                          content::LazyLayers& lazy, const registry::ClientOptions& client,
                          Progress& progress);

}  // namespace kiln::remote_cache
