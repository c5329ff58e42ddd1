#include "exporter/targets.h"

#include "base/error.h"
#include "base/thread_pool.h"
#include "content/image_store.h"

namespace kiln::exporter {

namespace {

bool all_local(const content::StateRoot& root, const CommittedImage& image) {
    for (const auto& l : image.manifest.layers)
        if (!root.blobs().has(l.digest))
            return false;
    return true;
}

// Layers the store knows only lazily come in now, several at once, before an
// output that needs their bytes (one layer fetch per connection).
void fetch_layers(const content::StateRoot& root, const CommittedImage& image) {
    const auto& layers = image.manifest.layers;
    parallel_for(layers.size(), 4, [&](std::size_t i) {
        if (!root.blobs().ensure(layers[i].digest))
            throw Error("layer " + layers[i].digest.str() + " is missing from the store");
    });
}

}  // namespace

ExportResult export_output(const content::StateRoot& root, const CommittedImage& image,
                           const OutputSpec& spec, const std::vector<std::string>& names,
                           const registry::PushOptions& push) {
    std::vector<std::string> all = names;
    if (auto n = spec.get("name"); !n.empty())
        all.push_back(n);
    if (spec.type == "image") {
        if (spec.get("push") == "true" && !all_local(root, image)) {
            // Shared-cache hits left layers undownloaded: pushing needs none of
            // them, and naming the image locally would fetch them all.
            auto pushed = export_registry(root, image, spec, all, push);
            return {pushed.manifest_digest,
                    pushed.description +
                        "; not named in the local store (its layers came from "
                        "the shared cache and were not downloaded)",
                    pushed.pushed};
        }
        fetch_layers(root, image);
        auto stored = export_to_store(root, image, all);
        if (spec.get("push") != "true")
            return stored;
        auto pushed = export_registry(root, image, spec, all, push);
        return {pushed.manifest_digest, stored.description + "; " + pushed.description,
                pushed.pushed};
    }
    if (spec.type != "registry")
        fetch_layers(root, image);
    if (spec.type == "oci")
        return export_oci(root, image, spec, all);
    if (spec.type == "docker")
        return export_docker(root, image, spec, all);
    if (spec.type == "registry")
        return export_registry(root, image, spec, all, push);
    if (spec.type == "local")
        return export_local(root, image, spec);
    if (spec.type == "tar")
        return export_tar(root, image, spec);
    throw Error("unknown output type \"" + spec.type + "\"");
}

ExportResult export_index_output(const content::StateRoot& root, const CommittedIndex& index,
                                 const OutputSpec& spec, const std::vector<std::string>& names,
                                 const registry::PushOptions& push) {
    std::vector<std::string> all = names;
    if (auto n = spec.get("name"); !n.empty())
        all.push_back(n);
    if (spec.type == "docker")
        throw Error(
            "docker exporter does not currently support exporting manifest lists: "
            "build one platform for -o type=docker, or use -o type=oci");
    if (spec.type == "registry")
        return export_registry_index(root, index, spec, all, push);
    for (const auto& image : index.images)
        fetch_layers(root, image);
    if (spec.type == "oci")
        return export_oci_index(root, index, spec, all);
    if (spec.type == "local")
        return export_local_platforms(root, index, spec);
    if (spec.type == "tar")
        return export_tar_platforms(root, index, spec);
    if (spec.type != "image")
        throw Error("unknown output type \"" + spec.type + "\"");
    content::ImageStore store(root);
    std::string desc = "index " + index.descriptor.digest.str();
    for (const auto& n : all) {
        store.set(n, index.descriptor);
        desc += " as " + content::normalize_name(n);
    }
    if (spec.get("push") != "true")
        return {index.descriptor.digest, desc};
    auto pushed = export_registry_index(root, index, spec, all, push);
    return {pushed.manifest_digest, desc + "; " + pushed.description, pushed.pushed};
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
