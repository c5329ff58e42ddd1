#include "base/error.h"
#include "content/temp_dir.h"
#include "exporter/layout_writer.h"
#include "exporter/targets.h"
#include "snapshotter/layer_apply.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

ExportResult export_local(const content::StateRoot& root, const CommittedImage& image,
                          const OutputSpec& spec) {
    fs::path dest = spec.get("dest");
    check_parent_writable(dest);
    TempDir work(fs::absolute(dest).parent_path(), ".kiln-local-");
    for (const auto& layer : image.manifest.layers) {
        auto reader = root.blobs().reader(layer.digest);
        // Device nodes are not written where the user reads the tree (as BuildKit's
        // local exporter, which runs unprivileged on the client).
        snapshotter::ApplyOptions options;
        options.refuse_devices = true;
        snapshotter::apply_layer([&](void* buf, std::size_t n) { return reader.read(buf, n); },
                                 work.path(), layer.digest.str(), options);
    }
    move_into_place(work.path(), dest);
    work.release();
    return {image.manifest_descriptor.digest, "local directory " + dest.string()};
}

}  // namespace kiln::exporter
