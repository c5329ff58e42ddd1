#include "content/lazy_layers.h"

namespace kiln::content {

void LazyLayers::add(const RemoteLayer& layer) {
    std::lock_guard lock(mu_);
    by_diff_id_.emplace(layer.diff_id, layer);
    compressed_to_diff_id_.emplace(layer.compressed.digest, layer.diff_id);
}

std::optional<RemoteLayer> LazyLayers::by_diff_id(const Digest& diff_id) const {
    std::lock_guard lock(mu_);
    auto it = by_diff_id_.find(diff_id);
    if (it == by_diff_id_.end())
        return std::nullopt;
    return it->second;
}

std::optional<RemoteLayer> LazyLayers::by_compressed(const Digest& digest) const {
    std::lock_guard lock(mu_);
    auto it = compressed_to_diff_id_.find(digest);
    if (it == compressed_to_diff_id_.end())
        return std::nullopt;
    return by_diff_id_.at(it->second);
}

bool LazyLayers::knows(const Digest& digest) const {
    std::lock_guard lock(mu_);
    return by_diff_id_.count(digest) || compressed_to_diff_id_.count(digest);
}

bool LazyLayers::ensure(const BlobStore& store, const Digest& digest) const {
    if (store.has(digest))
        return true;
    std::optional<RemoteLayer> layer = by_diff_id(digest);
    if (!layer)
        layer = by_compressed(digest);
    if (!layer)
        return false;
    {
        // One fetch per blob: a second caller waits for the first.
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !in_flight_.count(digest); });
        if (store.has(digest))
            return true;
        in_flight_.insert(digest);
    }
    struct Done {
        const LazyLayers& self;
        const Digest& digest;
        ~Done() {
            std::lock_guard lock(self.mu_);
            self.in_flight_.erase(digest);
            self.cv_.notify_all();
        }
    } done{*this, digest};
    fetch_(*layer, digest);
    return store.has(digest);
}

}  // namespace kiln::content
