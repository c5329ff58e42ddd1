#include "exporter/annotations.h"

#include <sstream>

#include "base/error.h"

namespace kiln::exporter {

namespace {

std::map<std::string, std::string> matching(const std::vector<Annotations::Entry>& entries,
                                            const content::Platform& p) {
    std::map<std::string, std::string> out;
    for (const auto& e : entries)
        if (!e.platform || *e.platform == p)
            out[e.key] = e.value;
    return out;
}

content::Platform parse_platform_part(const std::string& flag, const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    for (std::string part; std::getline(ss, part, '/');)
        parts.push_back(part);
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() ||
        (parts.size() == 3 && parts[2].empty()))
        throw UsageError("--annotation " + flag + ": \"" + text +
                         "\" is not a platform (os/arch[/variant])");
    return {parts[1], parts[0], parts.size() == 3 ? parts[2] : ""};
}

}  // namespace

std::map<std::string, std::string> Annotations::for_manifest(const content::Platform& p) const {
    return matching(manifest, p);
}

std::map<std::string, std::string> Annotations::for_manifest_descriptor(
    const content::Platform& p) const {
    return matching(manifest_descriptor, p);
}

Annotations parse_annotations(const std::vector<std::string>& flags) {
    Annotations out;
    for (const auto& flag : flags) {
        const auto eq = flag.find('=');
        if (eq == std::string::npos)
            throw UsageError("--annotation " + flag + ": expected [TYPE:]KEY=VALUE");
        std::string left = flag.substr(0, eq);
        const std::string value = flag.substr(eq + 1);
        // The types end at the first ':' outside a platform's brackets.
        std::string types = "manifest";
        std::size_t depth = 0;
        for (std::size_t i = 0; i < left.size(); ++i) {
            if (left[i] == '[')
                ++depth;
            else if (left[i] == ']' && depth > 0)
                --depth;
            else if (left[i] == ':' && depth == 0) {
                types = left.substr(0, i);
                left = left.substr(i + 1);
                break;
            }
        }
        if (depth > 0)
            throw UsageError("--annotation " + flag + ": unclosed [");
        if (left.empty())
            throw UsageError("--annotation " + flag + ": the key is empty");
        std::stringstream ss(types);
        for (std::string type; std::getline(ss, type, ',');) {
            std::optional<content::Platform> platform;
            if (auto open = type.find('['); open != std::string::npos) {
                if (type.back() != ']')
                    throw UsageError("--annotation " + flag + ": unclosed [ in \"" + type + "\"");
                platform = parse_platform_part(flag, type.substr(open + 1, type.size() - open - 2));
                type = type.substr(0, open);
            }
            if (type == "manifest" || type == "manifest-descriptor") {
                (type == "manifest" ? out.manifest : out.manifest_descriptor)
                    .push_back({platform, left, value});
            } else if (type == "index" || type == "index-descriptor") {
                if (platform)
                    throw UsageError("--annotation " + flag + ": " + type +
                                     " annotations take no platform");
                (type == "index" ? out.index : out.index_descriptor)[left] = value;
            } else {
                throw UsageError("--annotation " + flag + ": unknown type \"" + type +
                                 "\" (manifest, index, manifest-descriptor, index-descriptor)");
            }
        }
    }
    return out;
}

void check_annotations(const Annotations& annotations, std::size_t platforms) {
    if (platforms > 1)
        return;
    if (!annotations.index.empty() || !annotations.index_descriptor.empty())
        throw UsageError(
            "--annotation index or index-descriptor: a single-platform build makes no index "
            "(build several --platform values, or annotate the manifest)");
}

}  // namespace kiln::exporter
