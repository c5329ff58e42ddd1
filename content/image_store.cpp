#include "content/image_store.h"

#include <algorithm>

#include "base/error.h"
#include "base/reference.h"
#include "content/atomic_file.h"
#include "content/file_lock.h"

namespace kiln::content {

std::string normalize_name(const std::string& name) {
    if (name.empty())
        throw Error("image name must not be empty");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+';
        if (!ok)
            throw Error("invalid image name \"" + name + "\"");
    }
    try {
        // Docker's reading: "library/busybox", "docker.io/library/busybox:latest" and
        // "busybox" are one image.
        return familiar_string(parse_reference(name));
    } catch (const Error&) {
        // A name an OCI layout can hold but Docker cannot parse (upper case, '+', as
        // `kiln load` may bring): kept as given, with ":latest" when it has no tag.
    }
    if (name.find('@') != std::string::npos)
        return name;
    auto slash = name.rfind('/');
    auto colon = name.rfind(':');
    bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    return has_tag ? name : name + ":latest";
}

namespace {

// Whether the descriptor is stored under `want` (normalised). An entry an older kiln
// wrote under another spelling of the same name ("library/app:1") still matches.
bool named(const Descriptor& d, const std::string& want) {
    auto it = d.annotations.find(kRefNameAnnotation);
    if (it == d.annotations.end())
        return false;
    if (it->second == want)
        return true;
    try {
        return normalize_name(it->second) == want;
    } catch (const Error&) {
        return false;  // not a name kiln could have written
    }
}

}  // namespace

bool is_index(const Descriptor& d) {
    return d.media_type == media_type::kOciIndex || d.media_type == media_type::kDockerManifestList;
}

Index read_index(const BlobStore& blobs, const Descriptor& desc) {
    if (!is_index(desc))
        throw Error("image " + desc.digest.str() + " is not an index");
    return parse_json_as<Index>(blobs.read_all(desc.digest), "index " + desc.digest.str());
}

StoredImage read_image(const BlobStore& blobs, const Descriptor& desc) {
    if (desc.media_type != media_type::kOciManifest &&
        desc.media_type != media_type::kDockerManifest) {
        throw Error("image " + desc.digest.str() + " has media type " + desc.media_type +
                    ", which kiln cannot read yet");
    }
    StoredImage out;
    out.descriptor = desc;
    out.manifest =
        parse_json_as<Manifest>(blobs.read_all(desc.digest), "manifest " + desc.digest.str());
    out.config = parse_json_as<ImageConfig>(blobs.read_all(out.manifest.config.digest),
                                            "image config " + out.manifest.config.digest.str());
    return out;
}

Index ImageStore::read_index() const {
    auto path = root_.path() / "index.json";
    return parse_json_as<Index>(read_file(path), path.string());
}

void ImageStore::write_index(const Index& index) {
    write_file_atomic(root_.path() / "index.json", canonical(nlohmann::json(index)));
}

std::optional<Descriptor> ImageStore::get(const std::string& name) const {
    auto want = normalize_name(name);
    for (auto& d : read_index().manifests) {
        if (named(d, want))
            return d;
    }
    return std::nullopt;
}

std::vector<NamedImage> ImageStore::list() const {
    std::vector<NamedImage> out;
    for (auto& d : read_index().manifests) {
        auto it = d.annotations.find(kRefNameAnnotation);
        if (it != d.annotations.end())
            out.push_back({it->second, d});
    }
    std::sort(out.begin(), out.end(),
              [](const NamedImage& a, const NamedImage& b) { return a.name < b.name; });
    return out;
}

void ImageStore::set(const std::string& name, Descriptor manifest) {
    auto n = normalize_name(name);
    FileLock lock(root_.locks() / "index.lock");
    Index index = read_index();
    std::erase_if(index.manifests, [&](const Descriptor& d) { return named(d, n); });
    manifest.annotations[kRefNameAnnotation] = n;
    index.manifests.push_back(std::move(manifest));
    write_index(index);
}

namespace {

// Platforms as equal as containerd's matcher finds them: a missing variant is
// its architecture's default.
bool same_platform(Platform a, Platform b) {
    for (auto* p : {&a, &b})
        if (p->variant.empty())
            p->variant = p->architecture == "arm64" ? "v8" : p->architecture == "arm" ? "v7" : "";
    return a == b;
}

}  // namespace

void ImageStore::set_platform(const std::string& name, Descriptor manifest,
                              const Platform& platform) {
    auto n = normalize_name(name);
    FileLock lock(root_.locks() / "index.lock");
    Index names = read_index();
    std::optional<Descriptor> current;
    for (const auto& d : names.manifests)
        if (named(d, n))
            current = d;
    // What the name holds now, by platform; unreadable content is dropped.
    std::vector<Descriptor> kept;
    try {
        if (current && is_index(*current)) {
            for (const auto& m : content::read_index(root_.blobs(), *current).manifests)
                if (m.platform && !same_platform(*m.platform, platform) &&
                    root_.blobs().has(m.digest))
                    kept.push_back(m);
        } else if (current) {
            auto held = read_image(root_.blobs(), *current);
            Platform p{held.config.architecture, held.config.os, held.config.variant};
            if (!same_platform(p, platform)) {
                Descriptor d = *current;
                d.annotations.clear();
                d.platform = p;
                kept.push_back(d);
            }
        }
    } catch (const Error&) {
        kept.clear();
    }
    Descriptor named_one = manifest;
    if (!kept.empty()) {
        Index merged;
        manifest.annotations.clear();
        manifest.platform = platform;
        merged.manifests = kept;
        merged.manifests.push_back(manifest);
        auto blob = root_.blobs().put(canonical(nlohmann::json(merged)));
        named_one = {media_type::kOciIndex, blob.digest, blob.size, {}, std::nullopt};
    }
    std::erase_if(names.manifests, [&](const Descriptor& d) { return named(d, n); });
    named_one.annotations[kRefNameAnnotation] = n;
    names.manifests.push_back(std::move(named_one));
    write_index(names);
}

bool ImageStore::remove(const std::string& name) {
    auto n = normalize_name(name);
    FileLock lock(root_.locks() / "index.lock");
    Index index = read_index();
    auto removed = std::erase_if(index.manifests, [&](const Descriptor& d) { return named(d, n); });
    if (removed == 0)
        return false;
    write_index(index);
    return true;
}

}  // namespace kiln::content
