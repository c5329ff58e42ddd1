// The build cache: cache key → what the step produced, under cache/steps/.
//
// Invariant: a record is written only after the layer it names is complete in
// the blob store; a record whose layer blob is gone counts as a miss.
// Records are renamed into place but not fsynced (content/atomic_file.h,
// Durability::unsynced): each names its own key, and one that does not parse
// or names another key (what a crash may leave) is a miss too.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "content/blob_store.h"
#include "content/oci.h"

#include <nlohmann/json.hpp>

namespace kiln::solver {

struct CacheRecord {
    // Uncompressed (digest = diffID); in the store, or lazily known to it
    // (content/lazy_layers.h). None = the step changed no file.
    std::optional<content::Descriptor> layer;
    std::string created;  // RFC 3339: when the step first ran (its history time, as BuildKit keeps)
    // The key of the file system the step ran on ("" for COPY --link).
    std::string parent;
    // What the step read, for --explain-cache only, never part of a key
    // (solver/explain.h): {"instruction","stage","base","files","env"}.
    nlohmann::json summary;
};

nlohmann::json to_json(const CacheRecord& r);
// Throws nlohmann::json::exception on a malformed record.
CacheRecord record_from_json(const nlohmann::json& j);

class CacheStore {
  public:
    CacheStore(std::filesystem::path dir, const content::BlobStore& blobs);
    // A record whose layer the store neither has nor can fetch is a miss.
    std::optional<CacheRecord> get(const content::Digest& key) const;
    void put(const content::Digest& key, const CacheRecord& record) const;
    // Every record, for --explain-cache (reads the whole directory).
    std::vector<std::pair<content::Digest, CacheRecord>> all() const;

  private:
    std::filesystem::path dir_;
    const content::BlobStore& blobs_;
};

}  // namespace kiln::solver
