// content/atomic_file.h: a file is whole at its final path or absent. A large
// file's writeback runs on a thread of its own, which must be done before
// commit()'s fsync and gone when a writer is dropped or moved.
#include "content/atomic_file.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

#include "content/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kStep = static_cast<std::size_t>(AtomicFile::kWritebackStep);

// Deterministic bytes that tell one offset from another.
std::string pattern(std::size_t from, std::size_t n) {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<char>(((from + i) * 2654435761u) >> 13);
    return out;
}

std::size_t entries_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
        ++n;
    return n;
}

class AtomicFileTest : public ::testing::Test {
  protected:
    TempDir dir_{fs::temp_directory_path(), "kiln-atomic-file-"};
    fs::path tmp_ = dir_.path() / "tmp";
    fs::path final_ = dir_.path() / "blob";
    void SetUp() override { fs::create_directory(tmp_); }
};

TEST_F(AtomicFileTest, ALargeFileWrittenInOddPiecesCommitsWhole) {
    const std::size_t total = 3 * kStep + kStep / 2 + 7;
    {
        AtomicFile f(final_, tmp_);
        for (std::size_t at = 0; at < total;) {
            const std::size_t n = std::min<std::size_t>(total - at, 100003);
            f.write(pattern(at, n));
            at += n;
        }
        EXPECT_FALSE(fs::exists(final_)) << "visible before commit";
        f.commit();
    }
    ASSERT_EQ(fs::file_size(final_), total);
    EXPECT_TRUE(read_file(final_) == pattern(0, total)) << "content differs";
    EXPECT_EQ(entries_in(tmp_), 0u) << "a temporary file was left";
}

TEST_F(AtomicFileTest, AnUnsyncedCommitStillAppearsWholeAndLeavesNoTemporary) {
    const std::size_t total = kStep + 11;
    {
        AtomicFile f(final_, tmp_);
        f.write(pattern(0, total));
        f.commit(Durability::unsynced);
    }
    EXPECT_TRUE(read_file(final_) == pattern(0, total)) << "content differs";
    EXPECT_EQ(entries_in(tmp_), 0u) << "a temporary file was left";
    write_file_atomic(final_, "replaced", 0644, Durability::unsynced);
    EXPECT_EQ(read_file(final_), "replaced");
}

TEST_F(AtomicFileTest, AWriterDroppedAfterWritebackBeganLeavesNothing) {
    {
        AtomicFile f(final_, tmp_);
        f.write(pattern(0, 2 * kStep + 1));
    }
    EXPECT_FALSE(fs::exists(final_));
    EXPECT_EQ(entries_in(tmp_), 0u);
}

TEST_F(AtomicFileTest, AWriterMovedWhileItsWritebackRunsStillCommitsWhole) {
    AtomicFile first(final_, tmp_);
    first.write(pattern(0, kStep + 5));
    AtomicFile second(std::move(first));
    second.write(pattern(kStep + 5, kStep));
    second.commit();
    EXPECT_TRUE(read_file(final_) == pattern(0, 2 * kStep + 5));
    EXPECT_EQ(entries_in(tmp_), 0u);
}

}  // namespace
}  // namespace kiln
