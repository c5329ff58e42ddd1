// `-o` / `--output` specs in buildx form: "type=oci,dest=out.tar,compression=zstd".
// A bare path means type=local,dest=PATH, as buildx reads it.
#pragma once

#include <map>
#include <string>

#include "exporter/compression.h"

namespace kiln::exporter {

struct OutputSpec {
    std::string type;  // image | oci | docker | local | registry
    std::map<std::string, std::string> attrs;

    std::string get(const std::string& key, const std::string& fallback = "") const {
        auto it = attrs.find(key);
        return it == attrs.end() ? fallback : it->second;
    }
    // compression / compression-level attrs; `fallback` when absent.
    CompressionOptions compression(Compression fallback) const;
    // oci-mediatypes attr (default true).
    bool oci_media_types() const;
};

// Throws kiln::Error naming the spec for unknown types, missing dest, bad values.
OutputSpec parse_output_spec(const std::string& text);

}  // namespace kiln::exporter
