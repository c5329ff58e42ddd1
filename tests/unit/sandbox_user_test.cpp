// USER resolution against an image's /etc/passwd and /etc/group, by Docker's rules.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"

namespace fs = std::filesystem;
using kiln::sandbox::resolve_user;
using kiln::sandbox::SandboxError;
using kiln::sandbox::User;

namespace {

class SandboxUserTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "kiln-sandbox-user-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }

    void write(const std::string& rel, const std::string& text) {
        fs::path p = root_ / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }
    void write_standard_files() {
        write("etc/passwd",
              "root:x:0:0:root:/root:/bin/sh\n"
              "# a comment\n"
              "daemon:x:1:1::/:/bin/false\n"
              "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
              "bob:x:1001:1001::/home/bob:/bin/sh\n"
              "broken:x:notanumber:5::/:/bin/sh\n");
        write("etc/group",
              "root:x:0:\n"
              "wheel:x:10:root,alice\n"
              "alice:x:1000:\n"
              "bob:x:1001:\n"
              "devs:x:2000:bob, alice\n"
              "empty:x:3000:\n");
    }

    fs::path root_;
};

TEST_F(SandboxUserTest, EmptySpecIsRootWithItsGroups) {
    write_standard_files();
    User u = resolve_user(root_, "");
    EXPECT_EQ(u.uid, 0u);
    EXPECT_EQ(u.gid, 0u);
    EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{10}));
}

TEST_F(SandboxUserTest, NameGivesUidGidAndMemberships) {
    write_standard_files();
    User u = resolve_user(root_, "alice");
    EXPECT_EQ(u.uid, 1000u);
    EXPECT_EQ(u.gid, 1000u);
    EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{10, 2000}));
}

TEST_F(SandboxUserTest, NumericUidTakesTheEntrysGid) {
    write_standard_files();
    User u = resolve_user(root_, "1001");
    EXPECT_EQ(u.uid, 1001u);
    EXPECT_EQ(u.gid, 1001u);
    EXPECT_EQ(u.additional_gids, (std::vector<uint32_t>{2000}));
}

TEST_F(SandboxUserTest, NumericUidWithoutEntryHasGidZero) {
    write_standard_files();
    User u = resolve_user(root_, "4242");
    EXPECT_EQ(u.uid, 4242u);
    EXPECT_EQ(u.gid, 0u);
    EXPECT_TRUE(u.additional_gids.empty());
}

TEST_F(SandboxUserTest, ExplicitGroupByNameOrNumberAndNoSupplementaryGroups) {
    write_standard_files();
    User u = resolve_user(root_, "alice:devs");
    EXPECT_EQ(u.uid, 1000u);
    EXPECT_EQ(u.gid, 2000u);
    EXPECT_TRUE(u.additional_gids.empty());

    u = resolve_user(root_, "alice:3000");
    EXPECT_EQ(u.gid, 3000u);
    u = resolve_user(root_, "alice:777");  // a number needs no entry
    EXPECT_EQ(u.gid, 777u);
    u = resolve_user(root_, "5000:6000");
    EXPECT_EQ(u.uid, 5000u);
    EXPECT_EQ(u.gid, 6000u);
}

TEST_F(SandboxUserTest, UnknownUserIsDockersError) {
    write_standard_files();
    try {
        resolve_user(root_, "mallory");
        FAIL() << "expected SandboxError";
    } catch (const SandboxError& e) {
        EXPECT_STREQ(e.what(), "unable to find user mallory: no matching entries in passwd file");
    }
    // A line whose uid is not a number is no entry (runc would read it as uid 0).
    EXPECT_THROW(resolve_user(root_, "broken"), SandboxError);
}

TEST_F(SandboxUserTest, UnknownGroupNameIsAnError) {
    write_standard_files();
    try {
        resolve_user(root_, "alice:nogroup");
        FAIL() << "expected SandboxError";
    } catch (const SandboxError& e) {
        EXPECT_STREQ(e.what(), "unable to find group nogroup: no matching entries in group file");
    }
}

TEST_F(SandboxUserTest, NoFilesNumericIsFineAndNamesFail) {
    User u = resolve_user(root_, "123:456");
    EXPECT_EQ(u.uid, 123u);
    EXPECT_EQ(u.gid, 456u);
    u = resolve_user(root_, "123");
    EXPECT_EQ(u.uid, 123u);
    EXPECT_EQ(u.gid, 0u);
    u = resolve_user(root_, "");
    EXPECT_EQ(u.uid, 0u);
    EXPECT_THROW(resolve_user(root_, "alice"), SandboxError);
}

TEST_F(SandboxUserTest, OutOfRangeIdsAreRefused) {
    EXPECT_THROW(resolve_user(root_, "2147483648"), SandboxError);
    EXPECT_THROW(resolve_user(root_, "1:99999999999999999999999"), SandboxError);
    EXPECT_EQ(resolve_user(root_, "2147483647").uid, 2147483647u);
}

TEST_F(SandboxUserTest, SymlinkedPasswdIsReadInsideTheRootfs) {
    // An image whose /etc/passwd points at an absolute path must be read as
    // <rootfs>/that/path, never as the host's file.
    write("srv/passwd", "carol:x:1500:1500::/:/bin/sh\n");
    fs::create_directories(root_ / "etc");
    fs::create_symlink("/srv/passwd", root_ / "etc/passwd");
    EXPECT_EQ(resolve_user(root_, "carol").uid, 1500u);

    // Escaping with ../ stops at the rootfs: the host's passwd (reachable on the host
    // through /proc/1/root) is not read, so its root entry is not found.
    fs::remove(root_ / "etc/passwd");
    fs::create_symlink("../../../../../../../../../../../../proc/1/root/etc/passwd",
                       root_ / "etc/passwd");
    EXPECT_THROW(resolve_user(root_, "root"), SandboxError);
}

}  // namespace
