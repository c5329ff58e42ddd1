#include "base/error.h"
#include "content/temp_dir.h"
#include "exporter/layout_writer.h"
#include "exporter/targets.h"
#include "snapshotter/layer_apply.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

// The image's layers applied into `dir`, in order.
void unpack_image(const content::StateRoot& root, const CommittedImage& image,
                  const fs::path& dir) {
    for (const auto& layer : image.manifest.layers) {
        auto reader = root.blobs().reader(layer.digest);
        // Device nodes are not written where the user reads the tree (as BuildKit's
        // local exporter, which runs unprivileged on the client).
        snapshotter::ApplyOptions options;
        options.refuse_devices = true;
        snapshotter::apply_layer([&](void* buf, std::size_t n) { return reader.read(buf, n); }, dir,
                                 layer.digest.str(), options);
    }
}

// buildx's directory for one platform of a multi-platform local output. The
// platform can come from a base image's config (a stranger's): a part that
// could leave `dest` is refused.
std::string platform_dir(const content::Platform& p) {
    for (const auto* part : {&p.os, &p.architecture, &p.variant})
        if (part->find('/') != std::string::npos || part->find('\0') != std::string::npos ||
            *part == "." || *part == "..")
            throw Error("image platform \"" + p.os + "/" + p.architecture + "/" + p.variant +
                        "\" cannot name a directory of -o type=local");
    if (p.os.empty() || p.architecture.empty())
        throw Error("an image of a multi-platform result has no platform");
    return p.os + "_" + p.architecture + (p.variant.empty() ? "" : "_" + p.variant);
}

}  // namespace

ExportResult export_local(const content::StateRoot& root, const CommittedImage& image,
                          const OutputSpec& spec) {
    fs::path dest = spec.get("dest");
    check_parent_writable(dest);
    TempDir work(fs::absolute(dest).parent_path(), ".kiln-local-");
    unpack_image(root, image, work.path());
    move_into_place(work.path(), dest);
    work.release();
    return {image.manifest_descriptor.digest, "local directory " + dest.string()};
}

ExportResult export_local_platforms(const content::StateRoot& root, const CommittedIndex& index,
                                    const OutputSpec& spec) {
    fs::path dest = spec.get("dest");
    check_parent_writable(dest);
    TempDir work(fs::absolute(dest).parent_path(), ".kiln-local-");
    std::string dirs;
    for (const auto& image : index.images) {
        const auto name = platform_dir(image.manifest_descriptor.platform.value_or(
            content::Platform{image.config.architecture, image.config.os, image.config.variant}));
        fs::create_directory(work.path() / name);
        unpack_image(root, image, work.path() / name);
        dirs += (dirs.empty() ? "" : ", ") + name;
    }
    move_into_place(work.path(), dest);
    work.release();
    return {index.descriptor.digest, "local directory " + dest.string() + " (" + dirs + ")"};
}

}  // namespace kiln::exporter
