#include "exporter/layer_cache.h"

#include <sys/stat.h>

#include <thread>

#include "content/atomic_file.h"
#include "content/error.h"
#include "exporter/layer_writer.h"
#include "solver/scheduler.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

fs::path record_path(const content::StateRoot& root, const content::Digest& diff_id,
                     const CompressionOptions& c) {
    return root.cache() / "compressed" /
           (compression_name(c.kind) + "-" + std::to_string(c.level)) / std::string(diff_id.hex());
}

std::optional<content::BlobInfo> read_record(const content::StateRoot& root, const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec))
        return std::nullopt;
    try {
        auto j = nlohmann::json::parse(read_file(p));
        content::BlobInfo info{content::Digest::parse(j.at("digest").get<std::string>()),
                               j.at("size").get<std::int64_t>()};
        struct stat st;
        if (::stat(root.blobs().path(info.digest).c_str(), &st) != 0 || st.st_size != info.size)
            return std::nullopt;
        return info;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged record only costs a recompression
    }
}

}  // namespace

std::vector<content::Descriptor> compressed_layers(const content::StateRoot& root,
                                                   const std::vector<content::Descriptor>& layers,
                                                   const CompressionOptions& compression,
                                                   bool oci) {
    std::vector<content::Descriptor> out(layers.size());
    if (compression.kind == Compression::none) {
        for (size_t i = 0; i < layers.size(); ++i) {
            out[i] = layers[i];
            out[i].media_type = layer_media_type(Compression::none, oci);
        }
        return out;
    }
    std::vector<solver::Job> jobs;
    for (size_t i = 0; i < layers.size(); ++i) {
        jobs.push_back(
            {"compress " + layers[i].digest.str(), {}, [&, i](const solver::CancelFlag& cancel) {
                 if (cancel)
                     return;
                 const auto& diff_id = layers[i].digest;
                 fs::path rec = record_path(root, diff_id, compression);
                 auto info = read_record(root, rec);
                 if (!info) {
                     LayerBlob blob =
                         compress_layer(root.blobs(), diff_id, root.blobs(), compression);
                     info = content::BlobInfo{blob.digest, blob.size};
                     fs::create_directories(rec.parent_path());
                     nlohmann::json j{{"digest", info->digest.str()}, {"size", info->size}};
                     write_file_atomic(rec, content::canonical(j));
                 }
                 out[i] = {
                     layer_media_type(compression.kind, oci), info->digest, info->size, {}, {}};
             }});
    }
    // Layers compress independently: one per core (zstd adds its own workers).
    solver::run_jobs(jobs, std::max(1u, std::thread::hardware_concurrency()));
    return out;
}

}  // namespace kiln::exporter
