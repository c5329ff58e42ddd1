// The resolver's property (tests/fuzz/root_dir_check.h) over seeded random inputs: the
// fuzzer's check, run in CI. Without root the chroot'ed realpath comparison is skipped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "content/temp_dir.h"
#include "tests/fuzz/root_dir_check.h"

namespace kiln {
namespace {

TEST(RootDirProperty, RandomTreesAndPathsStayInside) {
    std::mt19937 rng(20261201);
    for (int i = 0; i < 300; ++i) {
        TempDir tmp(std::filesystem::temp_directory_path(), "kiln-rootdir-prop-");
        std::vector<uint8_t> input(16 + rng() % 96);
        for (auto& byte : input)
            byte = static_cast<uint8_t>(rng());
        std::string problem = fuzz::check_root_dir_input(input.data(), input.size(), tmp.path(),
                                                         ::geteuid() == 0 && i % 10 == 0);
        ASSERT_EQ(problem, "") << "input #" << i;
    }
}

// Inputs the fuzzer (or CI's short run of it) once failed on, kept as regressions.
TEST(RootDirProperty, FoundInputsHold) {
    const std::filesystem::path dir = std::filesystem::path(KILN_TESTDATA_DIR) / "fuzz/root-dir";
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(e.path(), std::ios::binary);
        std::vector<uint8_t> input((std::istreambuf_iterator<char>(in)), {});
        TempDir tmp(std::filesystem::temp_directory_path(), "kiln-rootdir-found-");
        EXPECT_EQ(
            fuzz::check_root_dir_input(input.data(), input.size(), tmp.path(), ::geteuid() == 0),
            "")
            << e.path();
        ++n;
    }
    EXPECT_GT(n, 0) << "no inputs under " << dir;
}

}  // namespace
}  // namespace kiln
