// base/list_dir.h: a directory's names, sorted, with the type getdents gives.
#include "base/list_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class ListDirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::ofstream(dir_.path() / "b-file") << "x";
        fs::create_directory(dir_.path() / "a-dir");
        fs::create_symlink("/etc/passwd", dir_.path() / "c-link");
        ASSERT_EQ(::mkfifo((dir_.path() / "d-fifo").c_str(), 0600), 0);
        fd_ = UniqueFd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(fd_);
    }
    TempDir dir_{fs::temp_directory_path(), "kiln-list-dir-"};
    UniqueFd fd_;
};

TEST_F(ListDirTest, NamesAreSortedWithoutDots) {
    EXPECT_EQ(list_dir(fd_.get(), "dir"),
              (std::vector<std::string>{"a-dir", "b-file", "c-link", "d-fifo"}));
}

TEST_F(ListDirTest, TypedEntriesCarryWhatStatWouldSay) {
    auto entries = list_dir_typed(fd_.get(), "dir");
    ASSERT_EQ(entries.size(), 4u);
    const std::vector<std::string> names = {"a-dir", "b-file", "c-link", "d-fifo"};
    for (std::size_t i = 0; i < entries.size(); ++i) {
        EXPECT_EQ(entries[i].name, names[i]);
        if (entries[i].type == DT_UNKNOWN)
            continue;  // a file system that does not say: callers stat
        struct stat st;
        ASSERT_EQ(::fstatat(fd_.get(), names[i].c_str(), &st, AT_SYMLINK_NOFOLLOW), 0);
        EXPECT_EQ(DTTOIF(entries[i].type), st.st_mode & S_IFMT) << names[i];
    }
    // The link's type is the link's own, never its target's.
    if (entries[2].type != DT_UNKNOWN) {
        EXPECT_EQ(entries[2].type, DT_LNK);
    }
}

TEST_F(ListDirTest, AnFdThatIsNotADirectoryIsAnErrorNamingIt) {
    UniqueFd file(::open((dir_.path() / "b-file").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(file);
    try {
        list_dir_typed(file.get(), "the file b-file");
        FAIL() << "listed a regular file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("the file b-file"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace kiln
