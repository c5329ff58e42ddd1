// The resolver's property (tests/fuzz/root_dir_check.h) over seeded random inputs: the
// fuzzer's check, run in CI. Without root the chroot'ed realpath comparison is skipped.
#include <gtest/gtest.h>
#include <unistd.h>

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

}  // namespace
}  // namespace kiln
