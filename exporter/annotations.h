// buildx's --annotation: OCI annotations on what an output writes, at the
// levels buildx names: "[TYPE[,TYPE...]:]KEY=VALUE", TYPE one of manifest,
// index, manifest-descriptor, index-descriptor, manifest and
// manifest-descriptor optionally "[os/arch[/variant]]" for one platform; no
// TYPE means manifest.
//
//  - manifest: every image manifest (of the platform given), in every output;
//    so the manifest's digest changes with them.
//  - index: the index of a multi-platform result, in every output.
//  - manifest-descriptor: a manifest's entry in that index, and a
//    single-platform OCI layout's (or docker archive's) index.json entry.
//  - index-descriptor: the index's entry in an OCI layout's index.json.
// A single-platform build makes no index, so index and index-descriptor
// annotations are refused for it (check_annotations), before any work.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "content/oci.h"

namespace kiln::exporter {

struct Annotations {
    struct Entry {
        std::optional<content::Platform> platform;  // unset: every platform
        std::string key, value;
    };
    std::vector<Entry> manifest, manifest_descriptor;
    std::map<std::string, std::string> index, index_descriptor;

    std::map<std::string, std::string> for_manifest(const content::Platform& p) const;
    std::map<std::string, std::string> for_manifest_descriptor(const content::Platform& p) const;
};

// Throws kiln::UsageError naming the flag for a missing "=", an empty key,
// an unknown type or a malformed platform.
Annotations parse_annotations(const std::vector<std::string>& flags);

// Throws kiln::UsageError when `annotations` need an index and `platforms`
// (the number the build makes) is one.
void check_annotations(const Annotations& annotations, std::size_t platforms);

}  // namespace kiln::exporter
