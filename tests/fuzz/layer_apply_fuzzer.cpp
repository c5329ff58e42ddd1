// libFuzzer target for layer apply, the one place kiln unpacks a stranger's tar (pulled
// layers, `kiln load`, ADD of archives): the input is a layer stream (tar, gzip or zstd;
// apply_layer detects which) applied into a scratch root with the product's options. The
// property: whatever the layer holds (`../`, absolute paths, links out, whiteouts of
// outside paths), nothing beside the root changes — a sentinel directory next to it keeps
// exactly its one file, and nothing else appears in the scratch directory. Then the same
// layer goes through the snapshotter as a pull's does: a refused layer leaves the
// snapshotter's directory as it was, an accepted one is a snapshot. A refusal is
// kiln::Error; any other exception, a crash or a sanitizer report is a finding.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "base/error.h"
#include "snapshotter/layer_apply.h"
#include "snapshotter/snapshotter.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

// Every name below `dir`, without following links.
std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(
             dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        out.insert(it->path().lexically_relative(dir).string());
    return out;
}

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "layer_apply_fuzzer: %s\n", what.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fs::path base = kiln::fuzz::scratch_dir("layer-fuzz");
    // base/case/{root, outside/sentinel}: the layer goes into root.
    const fs::path scratch = base / "case", root = scratch / "root";
    std::error_code ec;
    fs::remove_all(scratch, ec);
    fs::create_directories(root);
    fs::create_directories(scratch / "outside");
    std::ofstream(scratch / "outside" / "sentinel") << "untouched";
    const std::set<std::string> before = listing(scratch / "outside");

    size_t at = 0;
    auto read = [&](void* buf, size_t n) {
        const size_t take = std::min(n, size - at);
        std::memcpy(buf, data + at, take);
        at += take;
        return take;
    };
    for (bool overlay : {false, true}) {
        kiln::snapshotter::ApplyOptions options;
        options.overlay_whiteouts = overlay;
        at = 0;
        try {
            kiln::snapshotter::apply_layer(read, root, "fuzz input", options);
        } catch (const kiln::Error&) {
            // refused
        }
    }
    std::set<std::string> top;
    for (const auto& e : fs::directory_iterator(scratch, ec))
        top.insert(e.path().filename().string());
    if (top != std::set<std::string>{"outside", "root"})
        finding("something was made beside the root");
    if (listing(scratch / "outside") != before)
        finding("the directory beside the root changed");
    std::ifstream in(scratch / "outside" / "sentinel");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (text != "untouched")
        finding("the sentinel beside the root was written");

    // The product's path: the snapshotter unpacks a layer as a snapshot. A
    // refused layer leaves its directory exactly as it was (no snapshot, no
    // temporary); an accepted one adds the snapshot.
    static const std::unique_ptr<kiln::snapshotter::Snapshotter> snap =
        kiln::snapshotter::open_snapshotter(base / "snapshots", "native", base / "snapshots-tmp");
    // Lock files stay by design (one per key, reused): leave them out of the picture.
    auto snapshots_listing = [&] {
        std::set<std::string> out;
        for (const auto& name : listing(base / "snapshots"))
            if (!name.starts_with("native/locks"))
                out.insert(name);
        return out;
    };
    const std::set<std::string> snaps_before = snapshots_listing();
    at = 0;
    try {
        snap->apply("fuzz", read, "fuzz input");
    } catch (const kiln::Error&) {
        if (snapshots_listing() != snaps_before)
            finding("a refused layer changed the snapshotter's directory");
        return 0;
    }
    if (!snap->exists("fuzz"))
        finding("an applied layer is not a snapshot");
    snap->remove("fuzz");
    if (snapshots_listing() != snaps_before)
        finding("removing the snapshot left something behind");
    return 0;
}
