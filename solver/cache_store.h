// The build cache: cache key → what the step produced, under cache/steps/.
//
// Invariant: a record is written only after the layer it names is complete in
// the blob store; a record whose layer blob is gone counts as a miss.
#pragma once

#include <filesystem>
#include <optional>

#include "content/blob_store.h"
#include "content/oci.h"

namespace kiln::solver {

struct CacheRecord {
    std::optional<content::Descriptor> layer;  // uncompressed, in the store; none = no change
    std::string created;  // RFC 3339: when the step first ran (its history time, as BuildKit keeps)
};

class CacheStore {
  public:
    CacheStore(std::filesystem::path dir, const content::BlobStore& blobs);
    std::optional<CacheRecord> get(const content::Digest& key) const;
    void put(const content::Digest& key, const CacheRecord& record) const;

  private:
    std::filesystem::path dir_;
    const content::BlobStore& blobs_;
};

}  // namespace kiln::solver
