// libFuzzer target for the in-root resolver: random trees of links, random paths
// (see root_dir_check.h for the property). Needs root for the chroot'ed realpath
// comparison; without root it checks against openat2 only.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tests/fuzz/root_dir_check.h"
#include "tests/fuzz/scratch_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace fs = std::filesystem;
    static const fs::path base = kiln::fuzz::scratch_dir("rootdir-fuzz");
    fs::path scratch = base / "case";
    std::error_code ec;
    fs::remove_all(scratch, ec);
    fs::create_directories(scratch);
    std::string problem = kiln::fuzz::check_root_dir_input(data, size, scratch, ::geteuid() == 0);
    if (!problem.empty()) {
        std::fprintf(stderr, "root_dir_fuzzer: %s\n", problem.c_str());
        std::abort();
    }
    return 0;
}
