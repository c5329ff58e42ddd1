#include "base/error.h"
#include "content/atomic_file.h"
#include "content/temp_dir.h"
#include "exporter/layout_writer.h"
#include "exporter/targets.h"
#include "exporter/tree_tar.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

// Docker normalises "app" to "app:latest" in RepoTags.
std::string repo_tag(const std::string& name) {
    if (name.find('@') != std::string::npos)
        return name;
    return tag_of(name) == "latest" && name.rfind(":latest") == std::string::npos ? name + ":latest"
                                                                                  : name;
}

}  // namespace

ExportResult export_docker(const content::StateRoot& root, const CommittedImage& image,
                           const OutputSpec& spec, const std::vector<std::string>& names) {
    fs::path dest = spec.get("dest");
    if (!to_stdout(spec))
        check_parent_writable(dest);
    TempDir work(root.tmp(), ".kiln-docker-");
    // Layers stay uncompressed unless asked otherwise, as `docker save` writes them.
    CompressionOptions compression = spec.compression(Compression::none);
    std::map<std::string, std::string> annotations;
    if (!names.empty()) {
        annotations["io.containerd.image.name"] = names.front();
        annotations[content::kRefNameAnnotation] = tag_of(names.front());
    }
    bool oci = spec.get("oci-mediatypes") == "true";
    auto layout = write_layout(root, image, work.path(), compression, oci, annotations);

    nlohmann::json entry;
    entry["Config"] = "blobs/sha256/" + std::string(image.manifest.config.digest.hex());
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& n : names)
        tags.push_back(repo_tag(n));
    entry["RepoTags"] = tags.empty() ? nlohmann::json(nullptr) : tags;
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : layout.layers)
        layers.push_back("blobs/sha256/" + std::string(l.digest.hex()));
    entry["Layers"] = layers;
    write_file_atomic(work.path() / "manifest.json", nlohmann::json::array({entry}).dump());

    write_archive(dest, [&](int fd) { write_tree_tar(work.path(), fd, 0); });
    return {layout.manifest.digest,
            "docker archive " + (to_stdout(spec) ? "to standard output" : dest.string())};
}

}  // namespace kiln::exporter
