// libFuzzer target for `kiln load` (exporter/archive_import.h): the input is an
// archive (a tar, any compression libarchive reads) imported into a state root.
// The properties, whatever the archive holds (`../` names, links, lying digests,
// manifests naming missing blobs):
//  - a refusal is kiln::Error and leaves the store's names (index.json) as they
//    were: no image is named with a part missing;
//  - an import names only images whose manifest is in the store;
//  - nothing is left in the store's tmp/, and nothing appears beside the store.
// Any other exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "base/error.h"
#include "content/state_root.h"
#include "exporter/archive_import.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "archive_import_fuzzer: %s\n", what.c_str());
    std::abort();
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::set<std::string> names_in(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        out.insert(e.path().filename().string());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fs::path work = kiln::fuzz::scratch_dir("load-fuzz");
    static int runs = 0;
    const fs::path archive = work / "in.tar", root_dir = work / "root";
    std::error_code ec;
    if (++runs % 500 == 0)
        fs::remove_all(root_dir, ec);  // keep the store from growing without end
    {
        std::ofstream out(archive, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    kiln::content::StateRoot root(root_dir);
    const std::string names_before = slurp(root_dir / "index.json");
    try {
        for (const auto& img : kiln::exporter::import_archive(root, archive, {})) {
            if (!root.blobs().has(img.manifest.digest))
                finding("an imported image's manifest is not in the store");
        }
    } catch (const kiln::Error&) {
        if (slurp(root_dir / "index.json") != names_before)
            finding("a refused archive changed the store's names");
    }
    if (!names_in(root.tmp()).empty())
        finding("the import left files in the store's tmp/");
    if (names_in(work) != std::set<std::string>{"in.tar", "root"})
        finding("something was made beside the store");
    return 0;
}
