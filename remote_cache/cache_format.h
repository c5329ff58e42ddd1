// kiln's shared-cache format (README "Sharing the build cache"): records of
// steps, `key -> layer, created, parent key, summary`, carried in an image
// config's "kiln.cache" field whose layers are the records' blobs.
//
//   "kiln.cache": {"version": 1, "records": [
//     {"key": "sha256:…", "parent": "sha256:…", "created": "RFC 3339",
//      "layer": {"index": 0, "diff_id": "sha256:…", "diff_size": 1234},   (absent: no change)
//      "summary": {…}}]}                                                  (solver/explain.h)
//
// `index` is the position of the record's layer in the manifest that carries
// the config: a cache manifest's own layers (--cache-to registry|local), or
// the image's layers (--cache-to inline).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "content/digest.h"

namespace kiln::remote_cache {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kVersionAnnotation = "dev.kiln.cache.version";
// The compression variant (content/layer_twins.h) of a cache layer, so an
// import knows which twin the blob is.
inline constexpr const char* kVariantAnnotation = "dev.kiln.cache.compression";
inline constexpr const char* kArtifactType = "application/vnd.kiln.cache.v1+json";
inline constexpr const char* kArtifactConfigType = "application/vnd.kiln.cache.config.v1+json";

struct LayerRef {
    std::size_t index = 0;
    content::Digest diff_id;
    std::int64_t diff_size = -1;
};

struct Record {
    content::Digest key;
    std::string parent;
    std::string created;
    std::optional<LayerRef> layer;
    nlohmann::json summary;
};

nlohmann::json encode_records(const std::vector<Record>& records);

// Reads a "kiln.cache" value. `layer_count` is how many layers the carrying
// manifest has. Throws kiln::Error (naming `where`) for another version, an
// index out of range or a malformed record.
std::vector<Record> decode_records(const nlohmann::json& cache, std::size_t layer_count,
                                   const std::string& where);

}  // namespace kiln::remote_cache
