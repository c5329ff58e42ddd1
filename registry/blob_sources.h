// Where a blob is known to live in registries, so a push can mount it from
// another repository of the same registry instead of uploading it (the
// distribution spec's cross-repository blob mount).
//
// Records are cache/sources/<digest hex>: one "domain/repository" per line,
// appended when a pull fetched the blob or a push put it. A record is only a
// hint: a mount the registry declines falls back to an upload.
#pragma once

#include <string>
#include <vector>

#include "content/digest.h"
#include "content/state_root.h"

namespace kiln::registry {

void record_blob_source(const content::StateRoot& root, const content::Digest& blob,
                        const std::string& domain, const std::string& repository);
// Repositories of `domain` known to hold `blob`.
std::vector<std::string> blob_sources(const content::StateRoot& root, const content::Digest& blob,
                                      const std::string& domain);

}  // namespace kiln::registry
