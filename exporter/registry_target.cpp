#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>

#include "base/error.h"
#include "base/reference.h"
#include "content/image_store.h"
#include "content/layer_twins.h"
#include "exporter/layer_cache.h"
#include "exporter/targets.h"

namespace kiln::exporter {

namespace {

bool compressed(const content::Descriptor& layer) {
    return !content::default_variant_of(layer.media_type).empty();
}

// The manifest to push: the stored one when it is already in registry form
// (a pulled image, untouched), else one over compressed twins of the layers.
content::Descriptor registry_form(const content::StateRoot& root, const CommittedImage& image,
                                  const OutputSpec& spec, const CopyOpener& copy) {
    namespace mt = content::media_type;
    const auto& layers = image.manifest.layers;
    const bool given_form = spec.get("compression").empty() && spec.get("oci-mediatypes").empty();
    if (given_form && !layers.empty() && std::all_of(layers.begin(), layers.end(), compressed))
        return image.manifest_descriptor;
    const bool oci = spec.oci_media_types();
    content::Manifest m;
    m.media_type = oci ? mt::kOciManifest : mt::kDockerManifest;
    m.config = image.manifest.config;
    m.config.media_type = oci ? mt::kOciConfig : mt::kDockerConfig;
    std::vector<content::Descriptor> uncompressed = layers;
    if (std::any_of(layers.begin(), layers.end(), compressed)) {
        // A pulled image pushed with other compression: start from its diffIDs.
        for (size_t i = 0; i < uncompressed.size(); ++i)
            uncompressed[i].digest = image.config.diff_ids.at(i);
    }
    m.layers =
        compressed_layers(root, uncompressed, spec.compression(Compression::gzip), oci, copy);
    m.annotations = image.manifest.annotations;
    auto blob = root.blobs().put(content::canonical(nlohmann::json(m)));
    return {m.media_type, blob.digest, blob.size, {}, std::nullopt};
}

// Pushes what `make_top` puts in the store (a manifest or an index in
// registry form) to every name. Layers compressed meanwhile are streamed to
// the first name's repository while they are compressed; push_image() then
// finds them there. A stream that fails leaves the layer to push_image(),
// from the store.
ExportResult push_to_names(const content::StateRoot& root, const OutputSpec& spec,
                           const std::vector<std::string>& names, const registry::PushOptions& push,
                           const std::function<content::Descriptor(const CopyOpener&)>& make_top) {
    if (names.empty())
        throw Error("pushing to a registry needs a name: -t NAME or -o type=registry,name=REF");
    const auto first = kiln::parse_reference(names.front());
    registry::Client streams(first.domain, push.client);
    std::mutex log_mu;
    const CopyOpener stream = [&]() -> CompressedCopy {
        std::shared_ptr<registry::StreamUpload> up = streams.stream_upload(first.repository);
        return {[up](const void* d, std::size_t n) { up->write(d, n); },
                [up, &push, &log_mu](const content::BlobInfo& blob) {
                    if (up->finish(blob.digest) && push.log) {
                        std::lock_guard lock(log_mu);
                        push.log(std::string(blob.digest.hex().substr(0, 12)) +
                                 ": pushed while compressed");
                    }
                }};
    };
    const content::Descriptor manifest = make_top(stream);
    registry::PushOptions options = push;
    options.by_digest = spec.get("push-by-digest") == "true";
    std::string description;
    for (const auto& name : names) {
        const auto ref = kiln::parse_reference(name);
        auto r = registry::push_image(root, manifest, ref, options);
        std::string shown = ref.domain + "/" + ref.repository;
        description += (description.empty() ? "" : "; ") + std::string("pushed ") + shown +
                       (options.by_digest || ref.tag.empty() ? "" : ":" + ref.tag) + "@" +
                       r.digest.str();
    }
    return {manifest.digest, description, manifest};
}

}  // namespace

ExportResult export_registry(const content::StateRoot& root, const CommittedImage& image,
                             const OutputSpec& spec, const std::vector<std::string>& names,
                             const registry::PushOptions& push) {
    return push_to_names(root, spec, names, push, [&](const CopyOpener& stream) {
        return registry_form(root, image, spec, stream);
    });
}

ExportResult export_registry_index(const content::StateRoot& root, const CommittedIndex& index,
                                   const OutputSpec& spec, const std::vector<std::string>& names,
                                   const registry::PushOptions& push) {
    return push_to_names(root, spec, names, push, [&](const CopyOpener& stream) {
        namespace mt = content::media_type;
        content::Index out;
        out.media_type = spec.oci_media_types() ? mt::kOciIndex : mt::kDockerManifestList;
        out.annotations = index.annotations;
        for (const auto& image : index.images) {
            auto m = registry_form(root, image, spec, stream);
            m.annotations = image.manifest_descriptor.annotations;
            m.platform = image.manifest_descriptor.platform;
            out.manifests.push_back(m);
        }
        auto blob = root.blobs().put(content::canonical(nlohmann::json(out)));
        return content::Descriptor{out.media_type, blob.digest, blob.size, {}, std::nullopt};
    });
}

}  // namespace kiln::exporter
