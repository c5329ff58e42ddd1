#include "base/error.h"
#include "base/unique_fd.h"
#include "content/temp_dir.h"
#include "exporter/layer_writer.h"
#include "exporter/layout_writer.h"
#include "exporter/targets.h"
#include "exporter/tree_tar.h"
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

// `tree` as one tar at dest ("-": standard output), in the layer format
// (exporter/layer_writer.h): owners, modes, links and xattrs as the image has them.
void write_tar_of(const fs::path& tree, const OutputSpec& spec) {
    LayerOptions plain;
    plain.compression.kind = Compression::none;
    write_archive(spec.get("dest"), [&](int fd) {
        write_tree(
            tree, [fd](const void* d, std::size_t n) { write_all(fd, d, n, "the tar output"); },
            plain);
    });
}

std::string tar_description(const OutputSpec& spec) {
    return to_stdout(spec) ? "tar to standard output" : "tar " + spec.get("dest");
}

}  // namespace

ExportResult export_tar(const content::StateRoot& root, const CommittedImage& image,
                        const OutputSpec& spec) {
    if (!to_stdout(spec))
        check_parent_writable(spec.get("dest"));
    TempDir work(root.tmp(), ".kiln-tar-");
    unpack_image(root, image, work.path());
    write_tar_of(work.path(), spec);
    return {image.manifest_descriptor.digest, tar_description(spec)};
}

ExportResult export_tar_platforms(const content::StateRoot& root, const CommittedIndex& index,
                                  const OutputSpec& spec) {
    if (!to_stdout(spec))
        check_parent_writable(spec.get("dest"));
    TempDir work(root.tmp(), ".kiln-tar-");
    for (const auto& image : index.images) {
        const fs::path dir =
            work.path() /
            platform_dir(image.manifest_descriptor.platform.value_or(content::Platform{
                image.config.architecture, image.config.os, image.config.variant}));
        fs::create_directory(dir);
        unpack_image(root, image, dir);
    }
    write_tar_of(work.path(), spec);
    return {index.descriptor.digest, tar_description(spec)};
}

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
