#include "registry/pull.h"

#include <mutex>
#include <optional>

#include "base/error.h"
#include "content/image_store.h"
#include "content/layer_twins.h"
#include "registry/blob_sources.h"
#include "registry/layer_unpack.h"
#include "registry/parallel.h"

namespace kiln::registry {

namespace mt = content::media_type;

namespace {

bool is_index(const std::string& media_type) {
    return media_type == mt::kOciIndex || media_type == mt::kDockerManifestList;
}

std::string short_digest(const content::Digest& d) {
    return std::string(d.hex().substr(0, 12));
}

std::string where(const Reference& ref) {
    return "registry " + ref.domain + ": " + ref.repository;
}

// Whether the name's descriptor `current` is the manifest `digest`, or an
// index holding it, with the manifest in the store.
bool holds(const content::BlobStore& blobs, const std::optional<content::Descriptor>& current,
           const content::Digest& digest) {
    if (!current || !blobs.has(digest))
        return false;
    if (!content::is_index(*current))
        return current->digest == digest;
    try {
        for (const auto& m : content::read_index(blobs, *current).manifests)
            if (m.digest == digest)
                return true;
    } catch (const Error&) {
    }
    return false;
}

}  // namespace

PullResult pull_image(const content::StateRoot& root, const Reference& ref,
                      const PullOptions& options) {
    auto log = [&](const std::string& line) {
        if (options.log)
            options.log(line);
    };
    const PlatformSpec platform = options.platform.value_or(host_platform());
    const auto& blobs = root.blobs();
    Client client(ref.domain, options.client);

    PullResult result;
    result.name = store_name(ref);
    FetchedManifest top = client.get_manifest(ref.repository, ref.manifest_ref());
    FetchedManifest manifest = top;
    if (is_index(top.media_type)) {
        auto index = content::parse_json_as<content::Index>(
            top.bytes, where(ref) + ": index " + top.digest.str());
        const content::Descriptor* chosen = nullptr;
        for (const auto& m : index.manifests) {
            if (m.platform && platform_matches(*m.platform, platform)) {
                chosen = &m;
                break;
            }
        }
        if (!chosen)
            throw Error(where(ref) + ": " + ref.manifest_ref() + " has no image for platform " +
                        platform.str());
        manifest = client.get_manifest(ref.repository, chosen->digest.str());
        result.index_digest = top.digest;
    }
    if (manifest.media_type != mt::kOciManifest && manifest.media_type != mt::kDockerManifest)
        throw Error(where(ref) + ": manifest " + manifest.digest.str() + " has media type " +
                    manifest.media_type + ", which kiln cannot pull");
    auto m = content::parse_json_as<content::Manifest>(
        manifest.bytes, where(ref) + ": manifest " + manifest.digest.str());
    result.descriptor = {manifest.media_type,
                         manifest.digest,
                         static_cast<std::int64_t>(manifest.bytes.size()),
                         {},
                         std::nullopt};

    content::ImageStore images(root);
    if (holds(blobs, images.get(result.name), manifest.digest)) {
        result.up_to_date = true;
        result.named = true;
        log(result.name + ": image is up to date (" + manifest.digest.str() + ")");
        return result;
    }

    // The config first: it names the diffIDs the layers must unpack to.
    client.fetch_blob(ref.repository, m.config.digest, m.config.size, blobs);
    auto config = content::parse_json_as<content::ImageConfig>(
        blobs.read_all(m.config.digest), where(ref) + ": config " + m.config.digest.str());
    if (options.platform && !top.bytes.empty() && !is_index(top.media_type) &&
        (config.os != platform.os || config.architecture != platform.architecture)) {
        throw Error(where(ref) + ": image is for " + config.os + "/" + config.architecture +
                    ", not the requested platform " + platform.str());
    }
    if (config.diff_ids.size() != m.layers.size())
        throw Error(where(ref) + ": manifest " + manifest.digest.str() + " names " +
                    std::to_string(m.layers.size()) + " layers but its config lists " +
                    std::to_string(config.diff_ids.size()) + " diffIDs");

    if (options.lazy) {
        size_t missing = 0;
        for (size_t i = 0; i < m.layers.size(); ++i) {
            const auto& layer = m.layers[i];
            record_blob_source(root, layer.digest, ref.domain, ref.repository);
            if (blobs.has(config.diff_ids[i]))
                continue;
            ++missing;
            options.lazy->add({layer,
                               config.diff_ids[i],
                               -1,
                               content::default_variant_of(layer.media_type),
                               ref.domain,
                               ref.repository,
                               {}});
        }
        record_blob_source(root, m.config.digest, ref.domain, ref.repository);
        if (missing) {
            if (blobs.put(manifest.bytes).digest != manifest.digest)
                throw Error(where(ref) + ": manifest " + manifest.digest.str() +
                            " changed while read");
            log(result.name + ": resolved " + manifest.digest.str() + " (" +
                std::to_string(missing) + " layers fetched when needed)");
            return result;
        }
    }

    std::mutex log_mu;
    for_each_parallel(m.layers.size(), options.jobs, [&](std::size_t i) {
        const auto& layer = m.layers[i];
        const auto& diff_id = config.diff_ids[i];
        const std::string variant = content::default_variant_of(layer.media_type);
        const bool have = blobs.has(layer.digest) && blobs.has(diff_id);
        if (!have) {
            std::optional<LayerStream> one_pass;
            if (options.unpack && !variant.empty() && !blobs.has(layer.digest) &&
                !blobs.has(diff_id))
                one_pass.emplace(blobs, layer.digest, diff_id, [&](const LayerReader& read) {
                    options.unpack(i, config.diff_ids, read);
                });
            client.fetch_blob(ref.repository, layer.digest, layer.size, blobs, {},
                              one_pass ? &*one_pass : nullptr);
            const bool streamed = one_pass && one_pass->finish();  // the twin is stored
            if (!variant.empty() && !streamed)
                store_uncompressed(blobs, layer.digest, diff_id, options.client.cancel);
            else if (variant.empty() && layer.digest != diff_id)
                throw Error(where(ref) + ": layer " + layer.digest.str() +
                            " is uncompressed but is not the diffID " + diff_id.str());
        }
        if (!variant.empty())
            content::record_layer_twin(root, diff_id, variant, {layer.digest, layer.size});
        record_blob_source(root, layer.digest, ref.domain, ref.repository);
        std::lock_guard lock(log_mu);
        log(short_digest(layer.digest) + ": " + (have ? "already exists" : "pull complete"));
    });
    record_blob_source(root, m.config.digest, ref.domain, ref.repository);

    // The manifest (and index) blobs are the exact bytes served, so the
    // store names the image by the registry's digest.
    if (blobs.put(manifest.bytes).digest != manifest.digest)
        throw Error(where(ref) + ": manifest " + manifest.digest.str() + " changed while read");
    if (result.index_digest)
        blobs.put(top.bytes);
    images.set_platform(result.name, result.descriptor,
                        {config.architecture, config.os, config.variant});
    result.named = true;
    log(result.name + ": pulled " + manifest.digest.str());
    return result;
}

}  // namespace kiln::registry
