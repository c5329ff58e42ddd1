// `-o` / `--output` specs in buildx form: "type=oci,dest=out.tar,compression=zstd".
// A bare path means type=local,dest=PATH, as buildx reads it; "-" means
// type=tar,dest=- (the root file system as a tar on standard output). dest=-
// is standard output for every type that writes a file (tar, oci, docker).
#pragma once

#include <map>
#include <string>

#include "exporter/compression.h"

namespace kiln::exporter {

struct OutputSpec {
    std::string type;  // image | oci | docker | local | tar | registry
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

// Throws kiln::UsageError naming the spec for unknown types and keys, missing
// dest, bad values.
OutputSpec parse_output_spec(const std::string& text);

// Whether the output goes to standard output (dest=-).
bool to_stdout(const OutputSpec& spec);

// Throws kiln::UsageError when the spec's dest cannot be written (its parent
// is not a directory, or not writable; dest=- when standard output is a
// terminal), so a build does not run only to fail at its end. The exporters
// check again when they write.
void check_destination(const OutputSpec& spec);

}  // namespace kiln::exporter
