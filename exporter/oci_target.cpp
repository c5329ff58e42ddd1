#include <fcntl.h>

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

}  // namespace

ExportResult export_oci(const content::StateRoot& root, const CommittedImage& image,
                        const OutputSpec& spec, const std::vector<std::string>& names) {
    fs::path dest = spec.get("dest");
    check_parent_writable(dest);
    bool to_tar = dest.extension() == ".tar" || spec.get("tar") == "true";
    // Assembled beside the destination (same filesystem) so the final step is a rename.
    TempDir work(to_tar ? root.tmp() : parent_of(dest), ".kiln-oci-");
    auto layout = write_layout(root, image, work.path(), spec.compression(Compression::gzip),
                               spec.oci_media_types(), name_annotations(names));
    if (to_tar) {
        AtomicFile out(dest, parent_of(dest), 0644);
        write_tree_tar(work.path(), out.fd(), 0);
        out.commit();
    } else {
        move_into_place(work.path(), dest);
        work.release();
    }
    return {layout.manifest.digest, "OCI layout " + dest.string()};
}

}  // namespace kiln::exporter
