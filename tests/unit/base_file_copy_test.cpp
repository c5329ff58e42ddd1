// base/file_copy.h: bytes from one fd to another, with copy_file_range or, where the kernel
// cannot use it (a pipe, here), read/write.
#include "base/file_copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
    return s;
}

class FileCopyTest : public ::testing::Test {
  protected:
    fs::path write(const std::string& name, const std::string& data) {
        fs::path p = dir_.path() / name;
        std::ofstream(p, std::ios::binary) << data;
        return p;
    }
    UniqueFd open_file(const fs::path& p, int flags) {
        UniqueFd fd(::open(p.c_str(), flags | O_CLOEXEC, 0600));
        EXPECT_TRUE(fd) << p;
        return fd;
    }
    TempDir dir_{fs::temp_directory_path(), "kiln-copy-"};
};

TEST_F(FileCopyTest, CopiesEveryByteFileToFile) {
    const std::string data = pattern(3 * 1024 * 1024 + 17);
    UniqueFd in = open_file(write("src", data), O_RDONLY);
    UniqueFd out = open_file(dir_.path() / "dst", O_WRONLY | O_CREAT | O_EXCL);
    copy_file_data(in.get(), out.get(), "src", "dst");
    EXPECT_EQ(slurp(dir_.path() / "dst"), data);
}

TEST_F(FileCopyTest, EmptyFileCopiesNothing) {
    UniqueFd in = open_file(write("src", ""), O_RDONLY);
    UniqueFd out = open_file(dir_.path() / "dst", O_WRONLY | O_CREAT | O_EXCL);
    copy_file_data(in.get(), out.get(), "src", "dst");
    EXPECT_EQ(fs::file_size(dir_.path() / "dst"), 0u);
}

TEST_F(FileCopyTest, CopiesFromTheCurrentOffset) {
    UniqueFd in = open_file(write("src", "headerBODY"), O_RDONLY);
    ASSERT_EQ(::lseek(in.get(), 6, SEEK_SET), 6);
    UniqueFd out = open_file(dir_.path() / "dst", O_WRONLY | O_CREAT | O_EXCL);
    copy_file_data(in.get(), out.get(), "src", "dst");
    EXPECT_EQ(slurp(dir_.path() / "dst"), "BODY");
}

TEST_F(FileCopyTest, FallsBackToReadWriteWhereCopyFileRangeCannot) {
    // copy_file_range refuses a pipe (EINVAL): the fallback must carry the bytes.
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd rd(p[0]), wr(p[1]);
    const std::string data = pattern(200 * 1024);
    std::thread feeder([&] {
        write_all(wr.get(), data.data(), data.size(), "pipe");
        wr.reset();
    });
    UniqueFd out = open_file(dir_.path() / "dst", O_WRONLY | O_CREAT | O_EXCL);
    try {
        copy_file_data(rd.get(), out.get(), "pipe", "dst");
    } catch (...) {
        feeder.join();
        throw;
    }
    feeder.join();
    EXPECT_EQ(slurp(dir_.path() / "dst"), data);
}

TEST_F(FileCopyTest, AReadErrorNamesTheSource) {
    // A write-only source cannot be read by either path.
    UniqueFd in = open_file(write("src", "data"), O_WRONLY);
    UniqueFd out = open_file(dir_.path() / "dst", O_WRONLY | O_CREAT | O_EXCL);
    try {
        copy_file_data(in.get(), out.get(), "the source", "the copy");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("the source"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace kiln
