#include "remote_cache/cache_export.h"

#include <map>
#include <set>

#include "base/error.h"
#include "base/reference.h"
#include "content/atomic_file.h"
#include "exporter/layer_cache.h"
#include "exporter/layer_writer.h"
#include "exporter/layout_writer.h"
#include "registry/platform.h"
#include "registry/push.h"
#include "remote_cache/cache_format.h"

namespace kiln::remote_cache {

namespace fs = std::filesystem;
namespace mt = content::media_type;

namespace {

// The records a spec exports, each key once.
std::vector<const solver::SolvedRecord*> selected(const std::vector<solver::SolvedRecord>& all,
                                                  bool max_mode) {
    std::vector<const solver::SolvedRecord*> out;
    std::set<content::Digest> seen;
    for (const auto& r : all)
        if ((max_mode || r.in_image) && seen.insert(r.key).second)
            out.push_back(&r);
    return out;
}

Record to_format(const solver::SolvedRecord& r, std::optional<LayerRef> layer) {
    return {r.key, r.record.parent, r.record.created, layer, r.record.summary};
}

// The cache manifest in the store: config (records), then the manifest.
content::Descriptor write_cache_manifest(const CacheSpec& spec,
                                         const std::vector<const solver::SolvedRecord*>& records,
                                         const content::StateRoot& root) {
    // Each distinct layer once, in the order records first name it.
    std::vector<content::Descriptor> layers;
    std::map<content::Digest, std::size_t> index_of;
    std::vector<Record> out;
    for (const auto* r : records) {
        std::optional<LayerRef> ref;
        if (const auto& l = r->record.layer) {
            auto [it, added] = index_of.emplace(l->digest, layers.size());
            if (added)
                layers.push_back(*l);
            ref = LayerRef{it->second, l->digest, l->size};
        }
        out.push_back(to_format(*r, ref));
    }
    const bool oci = spec.flag("oci-mediatypes", true);
    const bool image_manifest = spec.flag("image-manifest", true);
    const auto compression = spec.compression();
    auto compressed = exporter::compressed_layers(root, layers, compression, oci);
    const std::string variant = exporter::variant_of(compression);
    nlohmann::json diff_ids = nlohmann::json::array();
    for (auto& l : compressed)
        l.annotations[kVariantAnnotation] = variant;
    for (const auto& l : layers)
        diff_ids.push_back(l.digest.str());
    const auto host = registry::host_platform();
    nlohmann::json config = {{"architecture", host.architecture},
                             {"os", host.os},
                             {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
                             {"kiln.cache", encode_records(out)}};
    auto config_blob = root.blobs().put(content::canonical(config));

    content::Manifest m;
    m.media_type = oci ? mt::kOciManifest : mt::kDockerManifest;
    m.config = {image_manifest ? (oci ? mt::kOciConfig : mt::kDockerConfig) : kArtifactConfigType,
                config_blob.digest,
                config_blob.size,
                {},
                std::nullopt};
    if (!image_manifest)
        m.artifact_type = kArtifactType;
    m.layers = compressed;
    m.annotations[kVersionAnnotation] = std::to_string(kFormatVersion);
    auto blob = root.blobs().put(content::canonical(nlohmann::json(m)));
    return {m.media_type, blob.digest, blob.size, {}, std::nullopt};
}

void export_registry(const CacheSpec& spec, const content::Descriptor& manifest,
                     const content::StateRoot& root, const registry::ClientOptions& client,
                     VertexScope& v) {
    registry::PushOptions push;
    push.client = client;
    push.log = [&v](const std::string& line) { v.log(line); };
    auto r = registry::push_image(root, manifest, kiln::parse_reference(spec.get("ref")), push);
    v.log("pushed " + spec.get("ref") + "@" + r.digest.str() + " (" +
          std::to_string(r.stats.uploaded) + " uploaded, " + std::to_string(r.stats.mounted) +
          " mounted, " + std::to_string(r.stats.existing) + " already there)");
}

void export_local(const CacheSpec& spec, const content::Descriptor& manifest,
                  const content::StateRoot& root) {
    const fs::path dir = spec.get("dest");
    const std::string tag = spec.get("tag", "latest");
    fs::create_directories(dir / "blobs" / "sha256");
    auto m = content::parse_json_as<content::Manifest>(root.blobs().read_all(manifest.digest),
                                                       "cache manifest");
    for (const auto& l : m.layers)
        exporter::copy_blob(root, l.digest, dir);
    exporter::copy_blob(root, m.config.digest, dir);
    exporter::copy_blob(root, manifest.digest, dir);
    content::Index index;
    std::error_code ec;
    if (fs::is_regular_file(dir / "index.json", ec))
        index = content::parse_json_as<content::Index>(read_file(dir / "index.json"),
                                                       (dir / "index.json").string());
    std::erase_if(index.manifests, [&](const content::Descriptor& d) {
        auto it = d.annotations.find(content::kRefNameAnnotation);
        return it != d.annotations.end() && it->second == tag;
    });
    content::Descriptor named = manifest;
    named.annotations[content::kRefNameAnnotation] = tag;
    index.manifests.push_back(named);
    if (!fs::exists(dir / "oci-layout", ec))
        write_file_atomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    write_file_atomic(dir / "index.json", content::canonical(nlohmann::json(index)));
}

}  // namespace

void export_caches(const std::vector<CacheSpec>& to,
                   const std::vector<solver::SolvedRecord>& records, const content::StateRoot& root,
                   const registry::ClientOptions& client, Progress& progress) {
    for (const auto& spec : to) {
        if (spec.type == "inline")
            continue;
        VertexScope v(progress, "exporting cache to " + spec.where());
        try {
            auto chosen = selected(records, spec.max_mode());
            auto manifest = write_cache_manifest(spec, chosen, root);
            v.log(std::to_string(chosen.size()) + " records, manifest " + manifest.digest.str());
            if (spec.type == "registry")
                export_registry(spec, manifest, root, client, v);
            else
                export_local(spec, manifest, root);
            v.done();
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            const std::string msg = "cache export to " + spec.where() + ": " + e.what();
            if (!spec.flag("ignore-error", false)) {
                v.error(msg);
                throw Error(msg);
            }
            progress.warn(msg + " (ignored: ignore-error=true)");
            v.done();
        }
    }
}

nlohmann::json inline_records(const std::vector<solver::SolvedRecord>& records,
                              const std::vector<content::Digest>& image_diff_ids) {
    std::map<content::Digest, std::size_t> index_of;
    for (std::size_t i = 0; i < image_diff_ids.size(); ++i)
        index_of.emplace(image_diff_ids[i], i);
    std::vector<Record> out;
    for (const auto* r : selected(records, false)) {
        std::optional<LayerRef> ref;
        if (const auto& l = r->record.layer) {
            auto it = index_of.find(l->digest);
            if (it == index_of.end())
                continue;  // not one of the image's layers: nothing to point at
            ref = LayerRef{it->second, l->digest, l->size};
        }
        out.push_back(to_format(*r, ref));
    }
    return encode_records(out);
}

}  // namespace kiln::remote_cache
