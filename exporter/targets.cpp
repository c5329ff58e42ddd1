#include "exporter/targets.h"

#include "base/error.h"
#include "content/image_store.h"

namespace kiln::exporter {

ExportResult export_output(const content::StateRoot& root, const CommittedImage& image,
                           const OutputSpec& spec, const std::vector<std::string>& names,
                           const registry::PushOptions& push) {
    std::vector<std::string> all = names;
    if (auto n = spec.get("name"); !n.empty())
        all.push_back(n);
    if (spec.type == "image") {
        auto stored = export_to_store(root, image, all);
        if (spec.get("push") != "true")
            return stored;
        auto pushed = export_registry(root, image, spec, all, push);
        return {pushed.manifest_digest, stored.description + "; " + pushed.description};
    }
    if (spec.type == "oci")
        return export_oci(root, image, spec, all);
    if (spec.type == "docker")
        return export_docker(root, image, spec, all);
    if (spec.type == "registry")
        return export_registry(root, image, spec, all, push);
    if (spec.type == "local")
        return export_local(root, image, spec);
    throw Error("unknown output type \"" + spec.type + "\"");
}

ExportResult export_to_store(const content::StateRoot& root, const CommittedImage& image,
                             const std::vector<std::string>& names) {
    content::ImageStore store(root);
    for (const auto& n : names)
        store.set(n, image.manifest_descriptor);
    std::string desc = "image " + image.manifest_descriptor.digest.str();
    for (const auto& n : names)
        desc += " as " + content::normalize_name(n);
    return {image.manifest_descriptor.digest, desc};
}

}  // namespace kiln::exporter
