// --cache-to / --cache-from specs in buildx's form:
//   type=registry,ref=HOST/REPO:TAG[,mode=min|max][,compression=gzip|zstd]
//     [,compression-level=N][,oci-mediatypes=BOOL][,image-manifest=BOOL][,ignore-error=BOOL]
//   type=local,dest=DIR[,tag=T]   (export)   type=local,src=DIR[,tag=T]   (import)
//   type=inline                   (export only: the records ride in the image's config)
// A value without '=' is a registry reference (`--cache-from REF`).
#pragma once

#include <map>
#include <string>

#include "exporter/compression.h"

namespace kiln::remote_cache {

enum class Direction { to, from };

struct CacheSpec {
    std::string text;  // as given, for messages
    std::string type;  // registry | local | inline
    std::map<std::string, std::string> attrs;

    std::string get(const std::string& key, const std::string& fallback = "") const;
    bool flag(const std::string& key, bool fallback) const;  // a checked true|false attr
    bool max_mode() const { return get("mode") == "max"; }
    exporter::CompressionOptions compression() const;  // gzip by default
    // What a message calls it: the ref, the directory, or "inline".
    std::string where() const;
};

// Throws kiln::Error naming the flag and the spec for an unknown type, a
// missing ref/dest/src, a bad mode, compression or boolean, or an attribute
// the type does not take.
CacheSpec parse_cache_spec(const std::string& text, Direction direction);

}  // namespace kiln::remote_cache
