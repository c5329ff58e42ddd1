#include "exporter/output_spec.h"

#include <sstream>

#include "base/error.h"

namespace kiln::exporter {

OutputSpec parse_output_spec(const std::string& text) {
    OutputSpec spec;
    if (text.find('=') == std::string::npos) {
        if (text.empty())
            throw Error("empty --output");
        spec.type = "local";
        spec.attrs["dest"] = text;
        return spec;
    }
    std::stringstream ss(text);
    std::string field;
    while (std::getline(ss, field, ',')) {
        auto eq = field.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error("invalid --output \"" + text + "\": \"" + field + "\" is not key=value");
        std::string key = field.substr(0, eq);
        std::string value = field.substr(eq + 1);
        if (key == "type") {
            spec.type = value;
        } else {
            spec.attrs[key] = value;
        }
    }
    if (spec.type.empty())
        throw Error("invalid --output \"" + text + "\": type= is missing");
    if (spec.type != "image" && spec.type != "oci" && spec.type != "docker" &&
        spec.type != "local" && spec.type != "registry")
        throw Error("invalid --output \"" + text + "\": unknown type \"" + spec.type +
                    "\" (want image, oci, docker, local or registry)");
    // buildx: type=image,push=true names the image locally and pushes it.
    if (auto v = spec.get("push"); !v.empty() && v != "true" && v != "false")
        throw Error("invalid push=\"" + v + "\" in --output (want true or false)");
    if (auto v = spec.get("push-by-digest"); !v.empty() && v != "true" && v != "false")
        throw Error("invalid push-by-digest=\"" + v + "\" in --output (want true or false)");
    if (spec.type != "image" && spec.type != "registry" && spec.get("dest").empty())
        throw Error("invalid --output \"" + text + "\": dest= is required for type=" + spec.type);
    spec.compression(Compression::gzip);  // validate now, not after the build
    spec.oci_media_types();
    return spec;
}

CompressionOptions OutputSpec::compression(Compression fallback) const {
    CompressionOptions c;
    c.kind = fallback;
    if (auto v = get("compression"); !v.empty())
        c.kind = parse_compression(v);
    if (auto v = get("compression-level"); !v.empty()) {
        try {
            size_t used = 0;
            c.level = std::stoi(v, &used);
            if (used != v.size())
                throw std::invalid_argument(v);
        } catch (const std::exception&) {
            throw Error("invalid compression-level \"" + v + "\" in --output");
        }
        int max = c.kind == Compression::zstd ? 22 : 9;
        if (c.level < 0 || c.level > max)
            throw Error("compression-level " + v + " is out of range for " +
                        compression_name(c.kind) + " (0-" + std::to_string(max) + ")");
    }
    return c;
}

bool OutputSpec::oci_media_types() const {
    auto v = get("oci-mediatypes", "true");
    if (v == "true")
        return true;
    if (v == "false")
        return false;
    throw Error("invalid oci-mediatypes=\"" + v + "\" in --output (want true or false)");
}

}  // namespace kiln::exporter
