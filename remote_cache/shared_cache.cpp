#include "remote_cache/shared_cache.h"

#include <fstream>

#include "base/error.h"
#include "base/reference.h"
#include "content/atomic_file.h"
#include "content/layer_twins.h"
#include "registry/blob_sources.h"
#include "registry/platform.h"
#include "remote_cache/cache_format.h"

namespace kiln::remote_cache {

namespace fs = std::filesystem;
namespace mt = content::media_type;

std::optional<solver::CacheRecord> SharedCache::get(const content::Digest& key) const {
    auto it = records_.find(key);
    if (it == records_.end())
        return std::nullopt;
    return it->second;
}

std::vector<solver::CacheRecord> SharedCache::all() const {
    std::vector<solver::CacheRecord> out;
    for (const auto& [_, r] : records_)
        out.push_back(r);
    return out;
}

void SharedCache::add(const content::Digest& key, solver::CacheRecord record) {
    records_.emplace(key, std::move(record));
}

namespace {

bool is_index(const std::string& media_type) {
    return media_type == mt::kOciIndex || media_type == mt::kDockerManifestList;
}

// A manifest and the config JSON it names, wherever they were read from.
struct Carrier {
    content::Manifest manifest;
    nlohmann::json config;
};

// The source's records, with their layers registered as lazily known.
void take_records(const Carrier& c, const std::string& where, content::RemoteLayer origin,
                  const content::StateRoot& root, content::LazyLayers& lazy, SharedCache& out) {
    auto it = c.config.find("kiln.cache");
    if (it == c.config.end())
        throw Error(where + " holds no kiln cache records");
    for (auto& r : decode_records(*it, c.manifest.layers.size(), where)) {
        // A layout restored without some blobs (a CI cache cut short): the
        // records of the missing ones are no hits, rather than failed steps.
        if (r.layer && !origin.layout.empty() &&
            !fs::exists(origin.layout / "blobs" / "sha256" /
                        std::string(c.manifest.layers[r.layer->index].digest.hex())))
            continue;
        solver::CacheRecord cr;
        cr.created = r.created;
        cr.parent = r.parent;
        cr.summary = std::move(r.summary);
        if (r.layer) {
            const content::Descriptor& blob = c.manifest.layers[r.layer->index];
            content::RemoteLayer remote = origin;
            remote.compressed = blob;
            remote.diff_id = r.layer->diff_id;
            remote.diff_size = r.layer->diff_size;
            // The annotation names the level; the media type, not the
            // annotation, says which compression it is.
            remote.variant = content::default_variant_of(blob.media_type);
            auto v = blob.annotations.find(kVariantAnnotation);
            if (v != blob.annotations.end() && !remote.variant.empty() &&
                v->second.rfind(remote.variant.substr(0, remote.variant.find('-') + 1), 0) == 0)
                remote.variant = v->second;
            lazy.add(remote);
            if (!remote.domain.empty())
                registry::record_blob_source(root, blob.digest, remote.domain, remote.repository);
            cr.layer = content::Descriptor{mt::kOciLayer,
                                           r.layer->diff_id,
                                           r.layer->diff_size >= 0 ? r.layer->diff_size : blob.size,
                                           {},
                                           std::nullopt};
        }
        out.add(r.key, std::move(cr));
    }
}

Carrier read_registry(const CacheSpec& spec, const content::StateRoot& root,
                      const registry::ClientOptions& options, content::RemoteLayer& origin) {
    const auto ref = kiln::parse_reference(spec.get("ref"));
    registry::Client client(ref.domain, options);
    auto top = client.get_manifest(ref.repository, ref.manifest_ref());
    auto fetched = top;
    if (is_index(top.media_type)) {
        // An inline cache on a multi-platform image: this machine's image.
        auto index = content::parse_json_as<content::Index>(top.bytes, spec.where());
        const auto want = registry::host_platform();
        const content::Descriptor* chosen = nullptr;
        for (const auto& m : index.manifests)
            if (m.platform && registry::platform_matches(*m.platform, want) && !chosen)
                chosen = &m;
        if (!chosen)
            throw Error(spec.where() + " is an index with no image for " + want.str());
        fetched = client.get_manifest(ref.repository, chosen->digest.str());
    }
    Carrier c;
    c.manifest = content::parse_json_as<content::Manifest>(fetched.bytes, spec.where());
    client.fetch_blob(ref.repository, c.manifest.config.digest, c.manifest.config.size,
                      root.blobs());
    c.config = content::parse_json(root.blobs().read_all(c.manifest.config.digest), spec.where());
    origin.domain = ref.domain;
    origin.repository = ref.repository;
    return c;
}

// A blob of an OCI layout, verified against its name.
std::string layout_blob(const fs::path& dir, const content::Digest& d) {
    auto path = dir / "blobs" / "sha256" / std::string(d.hex());
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error(dir.string() + ": blob " + d.str() + " is missing");
    std::string bytes = read_file(path);
    if (content::Digest::of(bytes) != d)
        throw Error(dir.string() + ": blob " + d.str() + " does not match its digest");
    return bytes;
}

Carrier read_local(const CacheSpec& spec, content::RemoteLayer& origin) {
    const fs::path dir = spec.get("src");
    const std::string tag = spec.get("tag", "latest");
    std::error_code ec;
    if (!fs::is_regular_file(dir / "index.json", ec))
        throw Error(dir.string() + " is not an OCI layout (no index.json)");
    auto index = content::parse_json_as<content::Index>(read_file(dir / "index.json"),
                                                        (dir / "index.json").string());
    const content::Descriptor* chosen = nullptr;
    for (const auto& m : index.manifests) {
        auto name = m.annotations.find(content::kRefNameAnnotation);
        if (name != m.annotations.end() && name->second == tag)
            chosen = &m;
    }
    if (!chosen)
        throw Error(dir.string() + " has no cache tagged \"" + tag + "\"");
    Carrier c;
    c.manifest =
        content::parse_json_as<content::Manifest>(layout_blob(dir, chosen->digest), dir.string());
    c.config = content::parse_json(layout_blob(dir, c.manifest.config.digest), dir.string());
    origin.layout = fs::absolute(dir);
    return c;
}

}  // namespace

SharedCache import_caches(const std::vector<CacheSpec>& from, const content::StateRoot& root,
                          content::LazyLayers& lazy, const registry::ClientOptions& client,
                          Progress& progress) {
    SharedCache out;
    for (const auto& spec : from) {
        VertexScope v(progress, "importing cache manifest from " + spec.where());
        try {
            content::RemoteLayer origin;
            Carrier c = spec.type == "local" ? read_local(spec, origin)
                                             : read_registry(spec, root, client, origin);
            const std::size_t before = out.size();
            take_records(c, spec.where(), origin, root, lazy, out);
            v.log(std::to_string(out.size() - before) + " records");
            v.done();
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            // As BuildKit: a cache that cannot be read only costs the hits.
            progress.warn("cache import from " + spec.where() + ": " + e.what());
            v.done();
        }
    }
    return out;
}

}  // namespace kiln::remote_cache
