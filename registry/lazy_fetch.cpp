#include "registry/lazy_fetch.h"

#include "base/error.h"
#include "content/layer_twins.h"
#include "registry/blob_sources.h"
#include "registry/layer_unpack.h"

namespace kiln::registry {

namespace fs = std::filesystem;

LayerFetcher::LayerFetcher(const content::StateRoot& root, ClientOptions options,
                           std::function<void(const std::string&)> log)
    : root_(root), options_(std::move(options)), log_(std::move(log)) {}

Client& LayerFetcher::client(const std::string& domain) {
    std::lock_guard lock(mu_);
    auto& c = clients_[domain];
    if (!c)
        c = std::make_unique<Client>(domain, options_);
    return *c;
}

namespace {

// A blob of an OCI layout into the store, verified while it streams.
void copy_from_layout(const fs::path& layout, const content::Digest& d,
                      const content::BlobStore& store) {
    content::BlobStore source(layout, store.temp_dir());
    if (!source.has(d))
        throw Error(layout.string() + ": blob " + d.str() + " is missing");
    auto reader = source.reader(d);
    auto writer = store.writer();
    char buf[1 << 16];
    while (std::size_t n = reader.read(buf, sizeof buf))
        writer.write(buf, n);
    writer.commit(d);
}

}  // namespace

void LayerFetcher::fetch(const content::RemoteLayer& layer, const content::Digest& digest) {
    const std::string from =
        layer.layout.empty() ? layer.domain + "/" + layer.repository : layer.layout.string();
    try {
        fetch_from(layer, digest, from);
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        throw Error("cannot fetch layer " + layer.diff_id.str() + " from " + from + ": " +
                    e.what());
    }
}

void LayerFetcher::fetch_from(const content::RemoteLayer& layer, const content::Digest& digest,
                              const std::string& from) {
    const auto& blobs = root_.blobs();
    const auto& compressed = layer.compressed.digest;
    if (!blobs.has(compressed)) {
        if (log_)
            log_("fetching " + compressed.str() + " from " + from);
        if (!layer.layout.empty()) {
            copy_from_layout(layer.layout, compressed, blobs);
        } else {
            client(layer.domain)
                .fetch_blob(layer.repository, compressed, layer.compressed.size, blobs);
            record_blob_source(root_, compressed, layer.domain, layer.repository);
        }
    }
    if (digest != layer.diff_id || blobs.has(layer.diff_id))
        return;
    if (compressed == layer.diff_id)
        return;  // an uncompressed layer: the blob is the tar
    store_uncompressed(blobs, compressed, layer.diff_id, options_.cancel);
    if (!layer.variant.empty())
        content::record_layer_twin(root_, layer.diff_id, layer.variant,
                                   {compressed, layer.compressed.size});
}

}  // namespace kiln::registry
