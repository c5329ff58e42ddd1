#include "exporter/layout_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/reference.h"
#include "content/atomic_file.h"
#include "content/blob_store.h"
#include "exporter/layer_cache.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

void copy_blob(const content::StateRoot& root, const content::Digest& digest, const fs::path& dir) {
    content::BlobStore target(dir, dir / "blobs");
    if (target.has(digest))
        return;
    auto reader = root.blobs().reader(digest);
    auto writer = target.writer();
    char buf[1 << 16];
    while (std::size_t n = reader.read(buf, sizeof buf))
        writer.write(buf, n);
    writer.commit(digest);
}

namespace {

void write_index_json(const fs::path& layout_dir, const content::Descriptor& top) {
    content::Index index;
    index.manifests.push_back(top);
    write_file_atomic(layout_dir / "index.json", content::canonical(nlohmann::json(index)));
    write_file_atomic(layout_dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
}

// The image's blobs and manifest; index.json is the caller's.
LayoutImage write_image(const content::StateRoot& root, const CommittedImage& image,
                        const fs::path& layout_dir, const CompressionOptions& compression,
                        bool oci) {
    namespace mt = content::media_type;
    fs::create_directories(layout_dir / "blobs" / "sha256");
    LayoutImage out;
    out.layers = compressed_layers(root, image.manifest.layers, compression, oci);
    for (const auto& l : out.layers)
        copy_blob(root, l.digest, layout_dir);
    copy_blob(root, image.manifest.config.digest, layout_dir);

    content::Manifest m;
    m.media_type = oci ? mt::kOciManifest : mt::kDockerManifest;
    m.config = image.manifest.config;
    m.config.media_type = oci ? mt::kOciConfig : mt::kDockerConfig;
    m.layers = out.layers;
    m.annotations = image.manifest.annotations;
    content::BlobStore target(layout_dir, layout_dir / "blobs");
    auto blob = target.put(content::canonical(nlohmann::json(m)));
    out.manifest_obj = m;
    out.manifest = {m.media_type, blob.digest, blob.size, {}, std::nullopt};
    return out;
}

}  // namespace

LayoutImage write_layout(const content::StateRoot& root, const CommittedImage& image,
                         const fs::path& layout_dir, const CompressionOptions& compression,
                         bool oci, const std::map<std::string, std::string>& index_annotations) {
    auto out = write_image(root, image, layout_dir, compression, oci);
    // The entry's own (manifest-descriptor) annotations, then the names'.
    out.manifest.annotations = image.manifest_descriptor.annotations;
    for (const auto& [k, v] : index_annotations)
        out.manifest.annotations[k] = v;
    write_index_json(layout_dir, out.manifest);
    return out;
}

content::Descriptor write_layout_index(
    const content::StateRoot& root, const CommittedIndex& committed, const fs::path& layout_dir,
    const CompressionOptions& compression, bool oci,
    const std::map<std::string, std::string>& index_annotations) {
    namespace mt = content::media_type;
    content::Index index;
    index.media_type = oci ? mt::kOciIndex : mt::kDockerManifestList;
    index.annotations = committed.annotations;
    for (const auto& image : committed.images) {
        auto written = write_image(root, image, layout_dir, compression, oci);
        written.manifest.platform = image.manifest_descriptor.platform;
        written.manifest.annotations = image.manifest_descriptor.annotations;
        index.manifests.push_back(written.manifest);
    }
    content::BlobStore target(layout_dir, layout_dir / "blobs");
    auto blob = target.put(content::canonical(nlohmann::json(index)));
    // The index-descriptor annotations, then the names'.
    content::Descriptor top{index.media_type, blob.digest, blob.size,
                            committed.descriptor.annotations, std::nullopt};
    for (const auto& [k, v] : index_annotations)
        top.annotations[k] = v;
    write_index_json(layout_dir, top);
    return top;
}

void move_into_place(const fs::path& from, const fs::path& dest) {
    struct stat st;
    // mkdtemp made `from` private; the result is for everyone to read.
    ::chmod(from.c_str(), 0755);
    if (::lstat(dest.c_str(), &st) != 0) {
        if (::rename(from.c_str(), dest.c_str()) != 0)
            throw errno_error("cannot write " + dest.string());
        return;
    }
    if (!S_ISDIR(st.st_mode))
        throw Error("cannot write " + dest.string() + ": not a directory");
    std::error_code ec;
    if (fs::is_empty(dest, ec) && ::rmdir(dest.c_str()) == 0 &&
        ::rename(from.c_str(), dest.c_str()) == 0) {
        return;
    }
    for (auto& e : fs::directory_iterator(from)) {
        fs::path d = dest / e.path().filename();
        struct stat ds, ss;
        ::lstat(e.path().c_str(), &ss);
        if (::lstat(d.c_str(), &ds) == 0 && S_ISDIR(ds.st_mode) && S_ISDIR(ss.st_mode)) {
            move_into_place(e.path(), d);
            continue;
        }
        if (::lstat(d.c_str(), &ds) == 0 && S_ISDIR(ds.st_mode))
            fs::remove_all(d);
        if (::rename(e.path().c_str(), d.c_str()) != 0)
            throw errno_error("cannot write " + d.string());
    }
}

void check_parent_writable(const fs::path& dest) {
    fs::path parent = fs::absolute(dest).parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
        throw Error("cannot write " + dest.string() + ": " + parent.string() +
                    " is not a directory");
    if (::access(parent.c_str(), W_OK) != 0)
        throw errno_error("cannot write " + dest.string());
}

std::string tag_of(const std::string& name) {
    auto ref = parse_reference(name, "name");
    return ref.tag.empty() ? "latest" : ref.tag;
}

}  // namespace kiln::exporter
