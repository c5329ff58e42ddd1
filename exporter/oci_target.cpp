#include <fcntl.h>

#include <functional>

#include "base/error.h"
#include "content/atomic_file.h"
#include "content/temp_dir.h"
#include "exporter/layout_writer.h"
#include "exporter/targets.h"
#include "exporter/tree_tar.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

fs::path parent_of(const fs::path& p) {
    fs::path abs = fs::absolute(p);
    return abs.parent_path();
}

// Annotations BuildKit puts on the index entry: the full name for containerd,
// the tag for OCI tools (what `skopeo inspect oci:DIR:TAG` looks for).
std::map<std::string, std::string> name_annotations(const std::vector<std::string>& names) {
    std::map<std::string, std::string> a;
    if (names.empty())
        return a;
    a["io.containerd.image.name"] = names.front();
    a[content::kRefNameAnnotation] = tag_of(names.front());
    return a;
}

// Writes a layout with `fill` into a directory assembled beside `dest` (same
// file system, so the last step is a rename), or into a tar at `dest`.
void write_oci(const content::StateRoot& root, const OutputSpec& spec,
               const std::function<void(const fs::path&)>& fill) {
    fs::path dest = spec.get("dest");
    const bool to_tar = to_stdout(spec) || dest.extension() == ".tar" || spec.get("tar") == "true";
    if (!to_stdout(spec))
        check_parent_writable(dest);
    TempDir work(to_tar ? root.tmp() : parent_of(dest), ".kiln-oci-");
    fill(work.path());
    if (to_tar) {
        write_archive(dest, [&](int fd) { write_tree_tar(work.path(), fd, 0); });
    } else {
        move_into_place(work.path(), dest);
        work.release();
    }
}

}  // namespace

ExportResult export_oci(const content::StateRoot& root, const CommittedImage& image,
                        const OutputSpec& spec, const std::vector<std::string>& names) {
    content::Digest written;
    write_oci(root, spec, [&](const fs::path& dir) {
        written = write_layout(root, image, dir, spec.compression(Compression::gzip),
                               spec.oci_media_types(), name_annotations(names))
                      .manifest.digest;
    });
    return {written, "OCI layout " + spec.get("dest")};
}

ExportResult export_oci_index(const content::StateRoot& root, const CommittedIndex& index,
                              const OutputSpec& spec, const std::vector<std::string>& names) {
    content::Digest written;
    write_oci(root, spec, [&](const fs::path& dir) {
        written = write_layout_index(root, index, dir, spec.compression(Compression::gzip),
                                     spec.oci_media_types(), name_annotations(names))
                      .digest;
    });
    return {written, "OCI layout " + spec.get("dest") + " (" + std::to_string(index.images.size()) +
                         " platforms)"};
}

}  // namespace kiln::exporter
