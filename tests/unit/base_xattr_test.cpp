// base/xattr.h: listing, reading, writing and copying extended attributes. user.* attributes
// work unprivileged on tmpfs and ext4; where the file system refuses them the test is skipped
// and says so.
#include "base/xattr.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class XattrTest : public ::testing::Test {
  protected:
    void SetUp() override {
        file_ = dir_.path() / "f";
        std::ofstream(file_) << "x";
        if (::setxattr(file_.c_str(), "user.probe", "1", 1, 0) != 0)
            GTEST_SKIP() << "the file system under " << dir_.path()
                         << " refuses user.* xattrs: " << std::strerror(errno);
        ::removexattr(file_.c_str(), "user.probe");
    }
    UniqueFd open_file(const fs::path& p, int flags = O_RDONLY) {
        UniqueFd fd(::open(p.c_str(), flags | O_CLOEXEC));
        EXPECT_TRUE(fd) << p;
        return fd;
    }

    TempDir dir_{fs::temp_directory_path(), "kiln-xattr-"};
    fs::path file_;
};

TEST_F(XattrTest, SetThenReadSortedThroughFdPathAndParent) {
    UniqueFd fd = open_file(file_);
    set_xattr(XattrTarget::fd(fd.get()), "user.b", "2", "f", xattr_refusal_ok);
    set_xattr(XattrTarget::path(file_.string()), "user.a", std::string("1\0x", 3), "f",
              xattr_refusal_ok);
    const Xattrs want{{"user.a", std::string("1\0x", 3)}, {"user.b", "2"}};
    EXPECT_EQ(read_xattrs(XattrTarget::fd(fd.get()), "f", XattrReadErrors::strict, all_xattrs),
              want);
    UniqueFd dir = open_file(dir_.path(), O_RDONLY | O_DIRECTORY);
    EXPECT_EQ(
        read_xattrs(XattrTarget::at(dir.get(), "f"), "f", XattrReadErrors::strict, all_xattrs),
        want);
    EXPECT_EQ(get_xattr(XattrTarget::fd(fd.get()), "user.b", "f"), "2");
    EXPECT_EQ(get_xattr(XattrTarget::fd(fd.get()), "user.none", "f"), std::nullopt);
}

TEST_F(XattrTest, FilterLeavesNamesOut) {
    set_xattr(XattrTarget::path(file_.string()), "user.overlay.opaque", "y", "f", xattr_refusal_ok);
    set_xattr(XattrTarget::path(file_.string()), "user.keep", "k", "f", xattr_refusal_ok);
    Xattrs got = read_xattrs(XattrTarget::path(file_.string()), "f", XattrReadErrors::strict,
                             [](const std::string& n) { return !n.starts_with("user.overlay."); });
    EXPECT_EQ(got, (Xattrs{{"user.keep", "k"}}));
}

TEST_F(XattrTest, LargeValuesAreReadWhole) {
    std::string big(3000, 'v');
    set_xattr(XattrTarget::path(file_.string()), "user.big", big, "f", xattr_refusal_ok);
    EXPECT_EQ(get_xattr(XattrTarget::path(file_.string()), "user.big", "f"), big);
}

TEST_F(XattrTest, CopyCarriesEveryKeptAttribute) {
    fs::path other = dir_.path() / "g";
    std::ofstream(other) << "y";
    set_xattr(XattrTarget::path(file_.string()), "user.one", "1", "f", xattr_refusal_ok);
    set_xattr(XattrTarget::path(file_.string()), "user.two", "2", "f", xattr_refusal_ok);
    UniqueFd src = open_file(file_);
    UniqueFd dst = open_file(other, O_WRONLY);
    copy_xattrs(XattrTarget::fd(src.get()), XattrTarget::fd(dst.get()), "g", XattrReadErrors::skip,
                xattr_refusal_ok_copy, [](const std::string& n) { return n != "user.two"; });
    EXPECT_EQ(list_xattrs(XattrTarget::path(other.string()), "g"),
              (std::vector<std::string>{"user.one"}));
}

TEST_F(XattrTest, RemoveToleratesAMissingAttribute) {
    set_xattr(XattrTarget::path(file_.string()), "user.gone", "1", "f", xattr_refusal_ok);
    remove_xattr(XattrTarget::path(file_.string()), "user.gone", "f", xattr_refusal_ok);
    EXPECT_NO_THROW(
        remove_xattr(XattrTarget::path(file_.string()), "user.gone", "f", xattr_refusal_ok));
    EXPECT_TRUE(list_xattrs(XattrTarget::path(file_.string()), "f").empty());
}

TEST_F(XattrTest, RefusalsNotToleratedThrowNamingTheEntry) {
    // A symlink cannot carry user.* attributes (EPERM), which xattr_refusal_ok tolerates only
    // for an unprivileged process; a policy tolerating nothing always throws.
    fs::path link = dir_.path() / "l";
    fs::create_symlink("f", link);
    try {
        set_xattr(XattrTarget::path(link.string()), "user.x", "1", "the link",
                  [](int) { return false; });
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(
            std::string(e.what()).rfind("cannot set extended attribute user.x on the link", 0), 0u)
            << e.what();
    }
    EXPECT_NO_THROW(set_xattr(XattrTarget::path(link.string()), "user.x", "1", "the link",
                              [](int err) { return err == EPERM; }));
}

TEST_F(XattrTest, StrictReadOfAMissingEntryThrowsSkipReadsNothing) {
    XattrTarget missing = XattrTarget::path((dir_.path() / "missing").string());
    EXPECT_THROW(list_xattrs(missing, "missing"), Error);
    EXPECT_TRUE(list_xattrs(missing, "missing", XattrReadErrors::skip).empty());
    EXPECT_THROW(get_xattr(missing, "user.x", "missing"), Error);
    EXPECT_EQ(get_xattr(missing, "user.x", "missing", XattrReadErrors::skip), std::nullopt);
}

TEST(XattrPolicy, WhatEachCallerTolerates) {
    EXPECT_TRUE(xattr_refusal_ok(ENOTSUP));
    EXPECT_EQ(xattr_refusal_ok(EPERM), ::geteuid() != 0);
    EXPECT_FALSE(xattr_refusal_ok(EACCES));
    EXPECT_FALSE(xattr_refusal_ok(EIO));
    EXPECT_TRUE(xattr_refusal_ok_copy(ENOTSUP));
    EXPECT_TRUE(xattr_refusal_ok_copy(EPERM));
    EXPECT_TRUE(xattr_refusal_ok_copy(EACCES));
    EXPECT_FALSE(xattr_refusal_ok_copy(EIO));
}

}  // namespace
}  // namespace kiln
