// `kiln images`, `kiln inspect`, `kiln rmi`, `kiln tag`, `kiln version`, `kiln debug dump-ast`.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/error.h"
#include "base/reference.h"
#include "build/machine_platforms.h"
#include "build/store_ops.h"
#include "cli/commands.h"
#include "cli/units.h"
#include "content/atomic_file.h"
#include "content/image_store.h"

namespace kiln::cli {

namespace {

content::Descriptor find(const content::ImageStore& store, const std::string& name) {
    auto d = store.get(name);
    if (!d)
        throw Error("no such image: " + content::normalize_name(name));
    return *d;
}

std::string platform_text(const content::ImageConfig& c) {
    return c.os + "/" + c.architecture + (c.variant.empty() ? "" : "/" + c.variant);
}

}  // namespace

int images(const std::optional<std::string>& root_flag) {
    content::StateRoot root(content::resolve_state_root(root_flag));
    content::ImageStore store(root);
    std::printf("%-40s %-19s %-25s %s\n", "NAME", "DIGEST", "CREATED", "SIZE");
    for (const auto& img : store.list()) {
        std::string created = "-";
        std::int64_t size = 0;
        std::string platforms;
        try {
            // A multi-platform image: the newest of its images, the sum of their
            // layers, and its platforms after the size.
            std::vector<content::Descriptor> manifests = {img.descriptor};
            if (content::is_index(img.descriptor))
                manifests = content::read_index(root.blobs(), img.descriptor).manifests;
            created.clear();
            for (const auto& m : manifests) {
                auto loaded = content::read_image(root.blobs(), m);
                created = std::max(created, loaded.config.created.substr(0, 19));
                for (const auto& l : loaded.manifest.layers)
                    size += l.size;
                if (content::is_index(img.descriptor))
                    platforms += (platforms.empty() ? "  " : ",") + platform_text(loaded.config);
            }
        } catch (const Error&) {
            created = "(unreadable)";
        }
        std::printf("%-40s %-19s %-25s %s%s\n", img.name.c_str(),
                    img.descriptor.digest.str().substr(0, 19).c_str(), created.c_str(),
                    human_size(size).c_str(), platforms.c_str());
    }
    return 0;
}

int inspect(const std::optional<std::string>& root_flag, const std::string& name) {
    content::StateRoot root(content::resolve_state_root(root_flag));
    content::ImageStore store(root);
    auto d = find(store, name);
    nlohmann::json out{{"Name", content::normalize_name(name)}, {"Digest", d.digest.str()}};
    if (content::is_index(d)) {
        // A multi-platform image: the index, then each platform's image.
        auto index = content::read_index(root.blobs(), d);
        out["Index"] = index;
        out["Platforms"] = nlohmann::json::array();
        for (const auto& m : index.manifests) {
            auto img = content::read_image(root.blobs(), m);
            out["Platforms"].push_back({{"Platform", platform_text(img.config)},
                                        {"Digest", m.digest.str()},
                                        {"Manifest", img.manifest},
                                        {"Config", img.config}});
        }
    } else {
        auto img = content::read_image(root.blobs(), d);
        out["Manifest"] = img.manifest;
        out["Config"] = img.config;
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

int rmi(const std::optional<std::string>& root_flag, const std::vector<std::string>& names) {
    content::StateRoot root(content::resolve_state_root(root_flag));
    auto lease = build::begin_writing(root);
    content::ImageStore store(root);
    for (const auto& n : names)
        find(store, n);  // all or nothing: check every name first
    for (const auto& n : names) {
        store.remove(n);
        std::cout << "Untagged: " << content::normalize_name(n) << "\n";
    }
    return 0;
}

int tag(const std::optional<std::string>& root_flag, const std::string& source,
        const std::string& target) {
    // As docker tag: the new name is a reference with a tag, never a digest.
    Reference ref = parse_reference(target, "tag");
    if (ref.digest)
        throw Error("invalid tag \"" + target + "\": a new name cannot hold a digest");
    content::StateRoot root(content::resolve_state_root(root_flag));
    auto lease = build::begin_writing(root);
    content::ImageStore store(root);
    std::optional<content::Descriptor> d;
    if (source.starts_with("sha256:")) {
        // An image's digest: the manifest of one of the store's images.
        for (const auto& img : store.list())
            if (img.descriptor.digest.str() == source)
                d = img.descriptor;
        if (!d)
            throw Error("no such image: " + source);
    } else {
        d = find(store, source);
    }
    store.set(target, *d);
    return 0;
}

int load(const std::optional<std::string>& root_flag, const std::string& input,
         const std::vector<std::string>& tags) {
    for (const auto& img :
         build::load_archive(content::resolve_state_root(root_flag), input, tags)) {
        if (img.names.empty())
            std::cout << "Loaded image: " << img.digest << "\n";
        for (const auto& n : img.names)
            std::cout << "Loaded image: " << n << " (" << img.digest << ")\n";
    }
    return 0;
}

int version() {
    std::cout << "kiln " << KILN_VERSION << "\n";
    return 0;
}

int platforms() {
    for (const auto& p : build::machine_platforms()) {
        std::cout << p.platform << "\t"
                  << (p.native ? std::string("native")
                               : "emulated by " + p.emulator +
                                     (p.unusable.empty() ? "" : " (unusable: " + p.unusable + ")"))
                  << "\n";
    }
    return 0;
}

int dump_ast(const std::string& file) {
    std::cout << build::dump_ast(file);
    return 0;
}

}  // namespace kiln::cli
