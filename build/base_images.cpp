#include "build/base_images.h"

#include "base/error.h"
#include "base/reference.h"
#include "content/oci.h"
#include "registry/platform.h"
#include "registry/pull.h"

namespace kiln::build {

registry::LayerUnpacker unpack_into(snapshotter::Snapshotter& snaps) {
    return [&snaps](std::size_t i, const std::vector<content::Digest>& diff_ids,
                    const registry::LayerReader& read) {
        std::string key;
        for (std::size_t j = 0; j <= i; ++j)
            key = content::chain_id(key, diff_ids[j]);
        snaps.apply(key, read, diff_ids[i].str());
    };
}

namespace {

std::optional<content::Descriptor> platform_entry(const content::Index& index,
                                                  const registry::PlatformSpec& want) {
    for (const auto& m : index.manifests)
        if (m.platform && registry::platform_matches(*m.platform, want))
            return m;
    return std::nullopt;
}

}  // namespace

BaseImages::BaseImages(const content::StateRoot& root, Progress& progress,
                       registry::ClientOptions client, bool pull)
    : root_(root), images_(root), progress_(progress), client_(std::move(client)), pull_(pull) {}

void BaseImages::pin(const std::string& ref, Pinned image) {
    std::lock_guard lock(mu_);
    pinned_[ref] = std::move(image);
}

std::optional<content::StoredImage> BaseImages::resolve(const std::string& ref,
                                                        const std::string& platform) {
    std::lock_guard lock(mu_);
    const auto key = std::make_pair(ref, platform);
    if (auto it = resolved_.find(key); it != resolved_.end())
        return it->second;
    std::optional<content::StoredImage> found;
    if (ref == "scratch")
        return found;
    if (auto it = pinned_.find(ref); it != pinned_.end())
        return resolved_[key] = content::read_image(
                   root_.blobs(),
                   it->second(platform.empty() ? registry::host_platform()
                                               : registry::parse_platform(platform)));
    std::optional<content::Descriptor> d;
    try {
        d = images_.get(ref);
    } catch (const Error&) {
        // not a name the store can hold; parse_reference below says why
    }
    std::optional<registry::PlatformSpec> want;
    if (!platform.empty())
        want = registry::parse_platform(platform);
    if (d && content::is_index(*d))  // a multi-platform name: its entry for the platform
        d = platform_entry(content::read_index(root_.blobs(), *d),
                           want.value_or(registry::host_platform()));
    const std::optional<content::Descriptor> local = d;
    if (d && want && !pull_) {
        // The store holds one image per name: another platform's is pulled over it.
        auto held = content::read_image(root_.blobs(), *d);
        if (!registry::platform_matches(
                {held.config.architecture, held.config.os, held.config.variant}, *want))
            d.reset();
    }
    if (!d || pull_) {
        if (on_pull_)
            on_pull_();
        VertexScope v(progress_, "[internal] load metadata for " + ref);
        try {
            registry::PullOptions po;
            po.client = client_;
            po.platform = want;
            po.log = [&v](const std::string& line) { v.log(line); };
            po.lazy = lazy_;
            if (unpack_)
                po.unpack = unpack_into(*unpack_);
            auto r = registry::pull_image(root_, kiln::parse_reference(ref), po);
            d = r.descriptor;
            if (!r.named)
                unnamed_.emplace_back(r.name, r.descriptor);
            v.done();
        } catch (const Error& e) {
            v.error(e.what());
            if (!local) {
                pull_errors_[ref] = e.what();
                resolved_[key] = std::nullopt;
                return std::nullopt;
            }
            d = local;
            progress_.warn(std::string(e.what()) + "; using the local image " + ref);
        }
    }
    if (d)
        found = content::read_image(root_.blobs(), *d);
    resolved_[key] = found;
    return found;
}

void BaseImages::name_complete() {
    std::lock_guard lock(mu_);
    for (const auto& [name, desc] : unnamed_) {
        auto image = content::read_image(root_.blobs(), desc);
        bool complete = true;
        for (std::size_t i = 0; i < image.manifest.layers.size(); ++i)
            complete = complete && root_.blobs().has(image.manifest.layers[i].digest) &&
                       i < image.config.diff_ids.size() &&
                       root_.blobs().has(image.config.diff_ids[i]);
        if (complete)
            images_.set_platform(
                name, desc, {image.config.architecture, image.config.os, image.config.variant});
    }
    unnamed_.clear();
}

std::string BaseImages::why_missing(const std::string& ref) {
    std::lock_guard lock(mu_);
    auto it = pull_errors_.find(ref);
    return it == pull_errors_.end() ? std::string() : "cannot pull: " + it->second;
}

}  // namespace kiln::build
