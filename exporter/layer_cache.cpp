#include "exporter/layer_cache.h"

#include <algorithm>
#include <thread>

#include "base/error.h"
#include "base/thread_pool.h"
#include "content/layer_twins.h"
#include "content/lazy_layers.h"
#include "exporter/layer_writer.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

std::string variant_of(const CompressionOptions& c) {
    return compression_name(c.kind) + "-" + std::to_string(c.level);
}

std::vector<content::Descriptor> compressed_layers(const content::StateRoot& root,
                                                   const std::vector<content::Descriptor>& layers,
                                                   const CompressionOptions& compression, bool oci,
                                                   const CopyOpener& copy) {
    std::vector<content::Descriptor> out(layers.size());
    if (compression.kind == Compression::none) {
        for (size_t i = 0; i < layers.size(); ++i) {
            out[i] = layers[i];
            out[i].media_type = layer_media_type(Compression::none, oci);
        }
        return out;
    }
    // Layers compress independently: one per core (zstd adds its own workers).
    parallel_for(
        layers.size(), std::max(1u, std::thread::hardware_concurrency()), [&](std::size_t i) {
            const auto& diff_id = layers[i].digest;
            const std::string variant = variant_of(compression);
            auto info = content::find_layer_twin(root, diff_id, variant);
            if (!info && root.blobs().lazy()) {
                if (auto remote = root.blobs().lazy()->by_diff_id(diff_id);
                    remote && remote->variant == variant)
                    info = content::BlobInfo{remote->compressed.digest, remote->compressed.size};
            }
            if (!info) {
                const CompressedCopy also = copy ? copy() : CompressedCopy{};
                LayerBlob blob =
                    compress_layer(root.blobs(), diff_id, root.blobs(), compression, also.write);
                info = content::BlobInfo{blob.digest, blob.size};
                content::record_layer_twin(root, diff_id, variant, *info);
                if (also.done)
                    also.done(*info);
            }
            out[i] = {layer_media_type(compression.kind, oci), info->digest, info->size, {}, {}};
        });
    return out;
}

}  // namespace kiln::exporter
