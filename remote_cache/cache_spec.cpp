#include "remote_cache/cache_spec.h"

#include <set>
#include <sstream>

#include "base/error.h"
#include "base/reference.h"
#include "exporter/output_spec.h"

namespace kiln::remote_cache {

std::string CacheSpec::get(const std::string& key, const std::string& fallback) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? fallback : it->second;
}

bool CacheSpec::flag(const std::string& key, bool fallback) const {
    const std::string v = get(key);
    if (v.empty())
        return fallback;
    return v == "true";
}

exporter::CompressionOptions CacheSpec::compression() const {
    exporter::OutputSpec o;
    o.attrs = attrs;
    return o.compression(exporter::Compression::gzip);
}

std::string CacheSpec::where() const {
    if (type == "registry")
        return get("ref");
    if (type == "local")
        return get("dest", get("src"));
    return type;
}

namespace {

const std::map<std::string, std::set<std::string>> kAttrs = {
    {"registry",
     {"ref", "mode", "compression", "compression-level", "oci-mediatypes", "image-manifest",
      "ignore-error"}},
    {"local",
     {"dest", "src", "tag", "mode", "compression", "compression-level", "oci-mediatypes",
      "image-manifest", "ignore-error"}},
    {"inline", {"mode", "ignore-error"}},
};

}  // namespace

CacheSpec parse_cache_spec(const std::string& text, Direction direction) {
    const std::string flag = direction == Direction::to ? "--cache-to" : "--cache-from";
    auto bad = [&](const std::string& why) -> UsageError {
        return UsageError("invalid " + flag + " \"" + text + "\": " + why);
    };
    CacheSpec spec;
    spec.text = text;
    if (text.empty())
        throw bad("empty");
    if (text.find('=') == std::string::npos) {
        spec.type = "registry";
        spec.attrs["ref"] = text;
    } else {
        std::stringstream ss(text);
        std::string field;
        while (std::getline(ss, field, ',')) {
            auto eq = field.find('=');
            if (eq == std::string::npos || eq == 0)
                throw bad("\"" + field + "\" is not key=value");
            std::string key = field.substr(0, eq), value = field.substr(eq + 1);
            if (key == "type")
                spec.type = value;
            else
                spec.attrs[key] = value;
        }
    }
    if (spec.type.empty())
        throw bad("type= is missing");
    if (spec.type == "gha" || spec.type == "s3" || spec.type == "azblob")
        throw bad("type=" + spec.type + " is not supported (use registry, local or inline)");
    auto known = kAttrs.find(spec.type);
    if (known == kAttrs.end())
        throw bad("unknown type \"" + spec.type + "\" (want registry, local or inline)");
    for (const auto& [k, _] : spec.attrs)
        if (!known->second.count(k))
            throw bad("type=" + spec.type + " takes no \"" + k + "\"");
    if (spec.type == "inline" && direction == Direction::from)
        throw bad(
            "type=inline is for --cache-to; import an inline cache with --cache-from "
            "IMAGE");
    if (spec.type == "registry") {
        if (spec.get("ref").empty())
            throw bad("ref= is required");
        kiln::parse_reference(spec.get("ref"), "ref");
    }
    if (spec.type == "local") {
        const char* dir = direction == Direction::to ? "dest" : "src";
        if (spec.get(dir).empty())
            throw bad(std::string(dir) + "= is required for type=local");
    }
    if (auto m = spec.get("mode"); !m.empty() && m != "min" && m != "max")
        throw bad("mode must be min or max");
    if (spec.type == "inline" && spec.get("mode") == "max")
        throw bad(
            "type=inline holds only the image's own steps (mode=min); use "
            "type=registry,mode=max for every stage");
    for (const char* b : {"oci-mediatypes", "image-manifest", "ignore-error"})
        if (auto v = spec.get(b); !v.empty() && v != "true" && v != "false")
            throw bad(std::string(b) + " must be true or false");
    if (!spec.flag("oci-mediatypes", true) && !spec.flag("image-manifest", true))
        throw bad("image-manifest=false (an OCI artifact) needs oci-mediatypes=true");
    try {
        spec.compression();
    } catch (const Error& e) {
        throw bad(e.what());
    }
    // Docker's schema 2 has no zstd layer type.
    if (!spec.flag("oci-mediatypes", true) &&
        spec.compression().kind == exporter::Compression::zstd)
        throw bad("compression=zstd needs oci-mediatypes=true");
    return spec;
}

}  // namespace kiln::remote_cache
