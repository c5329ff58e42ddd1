#include "exporter/output_spec.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "base/error.h"
#include "exporter/layout_writer.h"

namespace kiln::exporter {

namespace {

// The keys each type reads (buildx's names); a key kiln does not read is
// refused rather than silently dropped.
const std::vector<std::string>& keys_for(const std::string& type) {
    static const std::vector<std::string> image = {
        "name", "push", "push-by-digest", "compression", "compression-level", "oci-mediatypes"};
    static const std::vector<std::string> archive = {
        "dest", "tar", "name", "compression", "compression-level", "oci-mediatypes"};
    static const std::vector<std::string> local = {"dest"};
    if (type == "image" || type == "registry")
        return image;
    if (type == "local" || type == "tar")
        return local;
    return archive;
}

bool takes_key(const std::string& type, const std::string& key) {
    const auto& keys = keys_for(type);
    return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string keys_of(const std::string& type) {
    std::string out;
    for (const auto& k : keys_for(type))
        out += (out.empty() ? "" : ", ") + k;
    return out;
}

}  // namespace

OutputSpec parse_output_spec(const std::string& text) {
    OutputSpec spec;
    if (text.find('=') == std::string::npos) {
        if (text.empty())
            throw UsageError("empty --output");
        // buildx: a path is a local directory, "-" a tar on standard output.
        spec.type = text == "-" ? "tar" : "local";
        spec.attrs["dest"] = text;
        return spec;
    }
    std::stringstream ss(text);
    std::string field;
    while (std::getline(ss, field, ',')) {
        auto eq = field.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError("invalid --output \"" + text + "\": \"" + field +
                             "\" is not key=value");
        std::string key = field.substr(0, eq);
        std::string value = field.substr(eq + 1);
        if (key == "type") {
            spec.type = value;
        } else {
            spec.attrs[key] = value;
        }
    }
    if (spec.type.empty())
        throw UsageError("invalid --output \"" + text + "\": type= is missing");
    if (spec.type != "image" && spec.type != "oci" && spec.type != "docker" &&
        spec.type != "local" && spec.type != "tar" && spec.type != "registry")
        throw UsageError("invalid --output \"" + text + "\": unknown type \"" + spec.type +
                         "\" (want image, oci, docker, local, tar or registry)");
    // A directory cannot go to standard output: its files go as a tar, as buildx.
    if (spec.type == "local" && spec.get("dest") == "-")
        spec.type = "tar";
    // buildx: type=image,push=true names the image locally and pushes it.
    if (auto v = spec.get("push"); !v.empty() && v != "true" && v != "false")
        throw UsageError("invalid push=\"" + v + "\" in --output (want true or false)");
    if (auto v = spec.get("push-by-digest"); !v.empty() && v != "true" && v != "false")
        throw UsageError("invalid push-by-digest=\"" + v + "\" in --output (want true or false)");
    for (const auto& [key, value] : spec.attrs)
        if (!takes_key(spec.type, key))
            throw UsageError("invalid --output \"" + text + "\": type=" + spec.type +
                             " takes no \"" + key + "\" (it takes " + keys_of(spec.type) + ")");
    if (spec.type != "image" && spec.type != "registry" && spec.get("dest").empty())
        throw UsageError("invalid --output \"" + text +
                         "\": dest= is required for type=" + spec.type);
    try {  // validate now, not after the build
        spec.compression(Compression::gzip);
        spec.oci_media_types();
    } catch (const UsageError&) {
        throw;
    } catch (const Error& e) {
        throw UsageError("invalid --output \"" + text + "\": " + e.what());
    }
    return spec;
}

bool to_stdout(const OutputSpec& spec) {
    return spec.get("dest") == "-";
}

void check_destination(const OutputSpec& spec) {
    const auto dest = spec.get("dest");
    if (dest.empty())
        return;
    if (dest == "-") {
        if (::isatty(STDOUT_FILENO))
            throw UsageError("-o type=" + spec.type +
                             ",dest=-: refusing to write a tar to the terminal (redirect "
                             "standard output, or give dest=FILE)");
        return;
    }
    try {
        check_parent_writable(dest);
    } catch (const Error& e) {
        throw UsageError("-o type=" + spec.type + ",dest=" + dest + ": " + e.what());
    }
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
            throw UsageError("invalid compression-level \"" + v + "\" in --output");
        }
        int max = c.kind == Compression::zstd ? 22 : 9;
        if (c.level < 0 || c.level > max)
            throw UsageError("compression-level " + v + " is out of range for " +
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
    throw UsageError("invalid oci-mediatypes=\"" + v + "\" in --output (want true or false)");
}

}  // namespace kiln::exporter
