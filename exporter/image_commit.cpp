#include "exporter/image_commit.h"

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "base/error.h"
#include "content/image_store.h"
#include "exporter/layer_writer.h"

namespace kiln::exporter {

std::string rfc3339(std::int64_t unix_seconds, long nanos) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out = buf;
    if (nanos) {
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%09ld", nanos);
        std::string f = frac;
        while (f.back() == '0')
            f.pop_back();
        out += f;
    }
    return out + "Z";
}

std::optional<std::int64_t> source_date_epoch_from_env() {
    const char* v = std::getenv("SOURCE_DATE_EPOCH");
    if (!v || !*v)
        return std::nullopt;
    char* end = nullptr;
    long long n = std::strtoll(v, &end, 10);
    if (*end != '\0' || n < 0)
        throw Error("SOURCE_DATE_EPOCH=\"" + std::string(v) + "\" is not a Unix time");
    return n;
}

content::Descriptor store_layer_tree(const content::StateRoot& root,
                                     const std::filesystem::path& tree, bool overlay_whiteouts,
                                     const solver::OmitDir& omit_empty_dir,
                                     std::optional<std::int64_t> epoch,
                                     const solver::LayerHints& hints) {
    LayerOptions options;
    if (hints.previous && hints.unchanged) {
        options.previous_store = &root.blobs();
        options.previous = hints.previous;
        options.unchanged = hints.unchanged;
    }
    options.overlay_whiteouts = overlay_whiteouts;
    options.omit_empty_dir = omit_empty_dir;
    options.compression.kind = Compression::none;
    options.source_date_epoch = epoch;
    LayerBlob blob = write_layer(tree, root.blobs(), options);
    return {layer_media_type(Compression::none, true), blob.digest, blob.size, {}, {}};
}

std::string build_time(std::optional<std::int64_t> epoch) {
    if (epoch)
        return rfc3339(*epoch);
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(now);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs);
    return rfc3339(secs.count(), static_cast<long>(ns.count()));
}

CommittedImage commit_image(const content::StateRoot& root, const solver::SolvedImage& image,
                            const Annotations& annotations) {
    CommittedImage out;
    out.config = image.config;
    out.manifest.media_type = content::media_type::kOciManifest;

    for (const auto& step : image.steps) {
        out.config.history.push_back(step.history);
        if (!step.stored_layer)
            continue;
        const auto& digest = step.stored_layer->digest;
        out.config.diff_ids.push_back(digest);
        // A base image's layer descriptor carries the registry's compressed
        // size; the store holds the uncompressed tar, and its size is what a
        // reader of this manifest is promised.
        std::int64_t size = step.stored_layer->size;
        if (root.blobs().has(digest))
            size = static_cast<std::int64_t>(std::filesystem::file_size(root.blobs().path(digest)));
        out.manifest.layers.push_back(
            {layer_media_type(Compression::none, true), digest, size, {}, {}});
    }
    auto config_blob = root.blobs().put(content::canonical(nlohmann::json(out.config)));
    out.manifest.config = {
        content::media_type::kOciConfig, config_blob.digest, config_blob.size, {}, {}};
    const content::Platform platform{out.config.architecture, out.config.os, out.config.variant};
    out.manifest.annotations = annotations.for_manifest(platform);
    auto manifest_blob = root.blobs().put(content::canonical(nlohmann::json(out.manifest)));
    out.manifest_descriptor = {content::media_type::kOciManifest, manifest_blob.digest,
                               manifest_blob.size, annotations.for_manifest_descriptor(platform),
                               platform};
    return out;
}

CommittedIndex commit_index(const content::StateRoot& root, std::vector<CommittedImage> images,
                            const Annotations& annotations) {
    content::Index index;
    for (const auto& i : images)
        index.manifests.push_back(i.manifest_descriptor);
    index.annotations = annotations.index;
    auto blob = root.blobs().put(content::canonical(nlohmann::json(index)));
    return {{content::media_type::kOciIndex, blob.digest, blob.size, annotations.index_descriptor,
             std::nullopt},
            std::move(images),
            annotations.index};
}

CommittedImage load_image(const content::StateRoot& root, const content::Descriptor& desc) {
    auto stored = content::read_image(root.blobs(), desc);
    return {stored.descriptor, stored.manifest, stored.config};
}

}  // namespace kiln::exporter
