// The in-root resolver (base/root_dir.h): every answer stays inside the root, links
// are followed as the container would see them, and the host is never touched.
#include "base/root_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/error.h"
#include "content/temp_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class RootDirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(root);
        fs::create_directories(victim);
        std::ofstream(victim / "secret") << "host bytes";
    }
    void mkdir(const std::string& rel) { fs::create_directories(root / rel); }
    void link(const std::string& rel, const std::string& target) {
        fs::create_directories((root / rel).parent_path());
        fs::create_symlink(target, root / rel);
    }
    void file(const std::string& rel, const std::string& content) {
        fs::create_directories((root / rel).parent_path());
        std::ofstream(root / rel) << content;
    }
    // The victim directory holds exactly what SetUp put there.
    void expect_victim_untouched() {
        std::vector<std::string> names;
        for (auto& e : fs::directory_iterator(victim))
            names.push_back(e.path().filename());
        EXPECT_EQ(names, std::vector<std::string>{"secret"});
        std::ifstream in(victim / "secret");
        std::string s((std::istreambuf_iterator<char>(in)), {});
        EXPECT_EQ(s, "host bytes");
    }

    TempDir tmp{fs::temp_directory_path(), "kiln-rootdir-test-"};
    fs::path root = tmp.path() / "root";
    fs::path victim = tmp.path() / "victim";
};

TEST_F(RootDirTest, PlainPathResolvesToItself) {
    file("etc/passwd", "x");
    InRoot r = RootDir(root).resolve("/etc/passwd");
    EXPECT_EQ(r.path, "/etc/passwd");
    EXPECT_EQ(r.name, "passwd");
    EXPECT_TRUE(r.exists);
    EXPECT_TRUE(S_ISREG(r.st.st_mode));
}

TEST_F(RootDirTest, RelativeLinkInTheMiddleIsFollowed) {
    mkdir("usr/bin");
    link("bin", "usr/bin");
    EXPECT_EQ(RootDir(root).resolve("/bin/f").path, "/usr/bin/f");
}

TEST_F(RootDirTest, AbsoluteLinkStartsAgainAtTheRoot) {
    link("x", victim.string());
    InRoot r = RootDir(root).resolve("/x/secret");
    EXPECT_EQ(r.path, victim.string() + "/secret");
    EXPECT_FALSE(r.exists);  // the host's file is not seen
    EXPECT_FALSE(r.dir);     // the victim's path does not exist in the root
}

TEST_F(RootDirTest, DotDotStopsAtTheRoot) {
    link("up", "../../../../../../../..");
    file("etc/hosts", "h");
    InRoot r = RootDir(root).resolve("/up/etc/hosts");
    EXPECT_EQ(r.path, "/etc/hosts");
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(RootDir(root).resolve("/../../..").path, "/");
}

TEST_F(RootDirTest, LinkToRootIsTheRoot) {
    link("r", "/");
    file("a", "a");
    EXPECT_EQ(RootDir(root).resolve("/r/r/r/a").path, "/a");
}

TEST_F(RootDirTest, LastComponentFollowedOnlyWhenAsked) {
    file("etc/real", "r");
    link("l", "/etc/real");
    EXPECT_EQ(RootDir(root).resolve("/l").path, "/etc/real");
    InRoot r = RootDir(root).resolve("/l", Follow::not_last);
    EXPECT_EQ(r.path, "/l");
    EXPECT_TRUE(S_ISLNK(r.st.st_mode));
}

TEST_F(RootDirTest, LoopIsAnError) {
    link("a", "b");
    link("b", "a");
    try {
        RootDir(root).resolve("/a/x");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("too many levels of symbolic links"),
                  std::string::npos)
            << e.what();
    }
}

TEST_F(RootDirTest, FileOnTheWayIsNotADirectory) {
    file("etc", "a file");
    try {
        RootDir(root).resolve("/etc/passwd/x");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "/etc is not a directory");
    }
}

// As the kernel reads it: a link whose target ends in "/" or "/." names a directory,
// so following it to a file is "not a directory" (open(2) says ENOTDIR).
TEST_F(RootDirTest, ALinkWhoseTargetEndsInASlashNamesADirectory) {
    file("usr", "a file");
    mkdir("dir");
    link("b", "usr/");
    link("c", "/usr/.");
    link("d", "dir/");
    link("e", "b");  // the slash of a link further down counts too
    for (const char* path : {"b", "/c", "e"}) {
        try {
            InRoot r = RootDir(root).resolve(path);
            ADD_FAILURE() << path << " resolved to " << r.path;
        } catch (const Error& e) {
            EXPECT_STREQ(e.what(), "/usr is not a directory") << path;
        }
    }
    InRoot d = RootDir(root).resolve("d");
    EXPECT_EQ(d.path, "/dir");
    EXPECT_TRUE(d.is_dir());
    InRoot b = RootDir(root).resolve("b", Follow::not_last);  // the link itself
    EXPECT_EQ(b.path, "/b");
    EXPECT_TRUE(S_ISLNK(b.st.st_mode));
    // In the middle of a path the target is entered anyway.
    EXPECT_EQ(RootDir(root).resolve("d/x").path, "/dir/x");
}

TEST_F(RootDirTest, MissingDirectoryKeepsTheRestAsWritten) {
    InRoot r = RootDir(root).resolve("/no/such/../dir");
    EXPECT_EQ(r.path, "/no/dir");
    EXPECT_FALSE(r.exists);
}

TEST_F(RootDirTest, MkdirAllFollowsLinksInsideTheRoot) {
    link("x", victim.string());
    std::vector<std::string> made;
    RootDir(root).mkdir_all("/x/sub", 0755, [&](int, const std::string& p) { made.push_back(p); });
    EXPECT_TRUE(fs::is_directory(root / victim.relative_path() / "sub"));
    EXPECT_FALSE(fs::exists(victim / "sub"));
    expect_victim_untouched();
    // Every directory of the victim's path was made inside the root, in order.
    ASSERT_FALSE(made.empty());
    EXPECT_EQ(made.back(), victim.string() + "/sub");
}

TEST_F(RootDirTest, MkdirAllThroughRelativeEscapeStaysInside) {
    link("esc", "../../../../../../.." + victim.string());
    RootDir(root).mkdir_all("/esc/new", 0755);
    EXPECT_TRUE(fs::is_directory(root / victim.relative_path() / "new"));
    expect_victim_untouched();
}

TEST_F(RootDirTest, MkdirAllRefusesAFileOnTheWay) {
    file("a", "file");
    EXPECT_THROW(RootDir(root).mkdir_all("/a/b", 0755), Error);
}

TEST_F(RootDirTest, ReadFileReadsTheImagesFileNotTheHosts) {
    link("etc/passwd", victim.string() + "/secret");
    EXPECT_FALSE(RootDir(root).read_file("/etc/passwd").has_value());
    file(victim.relative_path().string() + "/secret", "image bytes");
    EXPECT_EQ(RootDir(root).read_file("/etc/passwd").value(), "image bytes");
}

TEST_F(RootDirTest, OpenAgreesWithTheWalk) {
    // open() uses openat2(RESOLVE_IN_ROOT) where the kernel has it; the walk must
    // land on the same inode.
    mkdir("usr/lib");
    link("lib", "usr/lib");
    link("usr/lib/abs", "/etc");
    file("etc/group", "g");
    link("loop", "../lib/abs/../lib/abs/group");
    RootDir r(root);
    for (const char* p : {"/lib/abs/group", "/loop", "/usr/../lib/./abs/group"}) {
        UniqueFd fd = r.open(p, O_RDONLY);
        ASSERT_TRUE(fd) << p;
        struct stat a, b;
        ASSERT_EQ(::fstat(fd.get(), &a), 0);
        InRoot w = r.resolve(p);
        ASSERT_TRUE(w.exists) << p;
        ASSERT_EQ(::fstatat(w.dir.get(), w.name.c_str(), &b, AT_SYMLINK_NOFOLLOW), 0);
        EXPECT_EQ(a.st_ino, b.st_ino) << p;
        EXPECT_EQ(w.path, "/etc/group") << p;
    }
    EXPECT_FALSE(r.open("/lib/abs/missing", O_RDONLY));
}

TEST_F(RootDirTest, OpenBeneathRefusesLinks) {
    mkdir("real");
    file("real/f", "f");
    link("l", "real");
    UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    EXPECT_TRUE(open_beneath(root_fd.get(), "real/f", O_RDONLY));
    EXPECT_THROW(open_beneath(root_fd.get(), "l/f", O_RDONLY), Error);
    EXPECT_THROW(open_beneath(root_fd.get(), "../x", O_RDONLY), Error);
}

}  // namespace
}  // namespace kiln
