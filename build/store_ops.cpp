#include "build/store_ops.h"

#include "base/error.h"
#include "base/reference.h"
#include "build/base_images.h"
#include "content/atomic_file.h"
#include "content/image_store.h"
#include "content/state_root.h"
#include "exporter/archive_import.h"
#include "exporter/image_commit.h"
#include "exporter/targets.h"
#include "frontend/dump_ast.h"
#include "frontend/parser.h"
#include "snapshotter/recovery.h"
#include "snapshotter/snapshotter.h"

namespace kiln::build {

std::vector<LoadedImage> load_archive(const std::filesystem::path& state_root,
                                      const std::string& input,
                                      const std::vector<std::string>& tags) {
    for (const auto& t : tags)
        kiln::parse_reference(t, "tag");
    content::StateRoot root(state_root);
    auto lease = begin_writing(root);
    std::vector<LoadedImage> out;
    for (const auto& img : exporter::import_archive(root, input, tags))
        out.push_back({img.names, img.manifest.digest.str()});
    return out;
}

gc::Lease begin_writing(const content::StateRoot& root) {
    gc::Lease lease(root);
    snapshotter::recover_state_root(root.path());
    return lease;
}

registry::PullResult pull_image(const content::StateRoot& root, const Reference& ref,
                                registry::PullOptions options) {
    // The kind a build picks by default (--snapshotter auto).
    auto lease = begin_writing(root);
    auto snaps = snapshotter::open_snapshotter(root.snapshots(), "auto", root.tmp());
    options.unpack = unpack_into(*snaps);
    return registry::pull_image(root, ref, options);
}

std::string push_image(const std::filesystem::path& state_root, const std::string& name,
                       const std::string& dest, const registry::ClientOptions& client,
                       const std::function<void(const std::string&)>& log) {
    kiln::parse_reference(dest.empty() ? name : dest);
    content::StateRoot root(state_root);
    auto lease = begin_writing(root);
    content::ImageStore images(root);
    auto desc = images.get(name);
    if (!desc)
        throw Error("push " + name + ": no such image in the local store");
    exporter::OutputSpec spec;
    spec.type = "registry";
    registry::PushOptions o;
    o.client = client;
    o.log = log;
    const std::vector<std::string> names = {dest.empty() ? name : dest};
    if (content::is_index(*desc)) {  // a multi-platform image: every platform, then the index
        const content::Index stored = content::read_index(root.blobs(), *desc);
        exporter::CommittedIndex index{*desc, {}, stored.annotations};
        for (const auto& m : stored.manifests) {
            index.images.push_back(exporter::load_image(root, m));
            index.images.back().manifest_descriptor.platform = m.platform;
        }
        return exporter::export_registry_index(root, index, spec, names, o).description;
    }
    return exporter::export_registry(root, exporter::load_image(root, *desc), spec, names, o)
        .description;
}

std::string dump_ast(const std::string& file) {
    std::string text;
    try {
        text = read_file(file);
    } catch (const Error&) {
        throw Error("failed to read dockerfile: " + file + ": no such file or directory");
    }
    auto name = std::filesystem::path(file).filename().string();
    return frontend::dump_ast(frontend::parse_dockerfile(text, name));
}

}  // namespace kiln::build
