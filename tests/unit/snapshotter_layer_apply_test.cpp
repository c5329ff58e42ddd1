// Layer application: the unpacker that trusts no tar. Malicious entries must
// never touch anything outside the root; whiteouts follow OCI layer semantics.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"
#include "content/atomic_file.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "snapshotter/layer_apply.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::snapshotter;

namespace {

struct ArchiveWriteFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// Builds a tar in memory, entry by entry, exactly as told (no sanitising).
class Tar {
  public:
    explicit Tar(int filter = ARCHIVE_FILTER_NONE) : a_(archive_write_new()) {
        archive_write_set_format_pax_restricted(a_.get());
        if (filter == ARCHIVE_FILTER_GZIP)
            archive_write_add_filter_gzip(a_.get());
        if (filter == ARCHIVE_FILTER_ZSTD)
            archive_write_add_filter_zstd(a_.get());
        // No zero padding after the compressed stream: zstd readers reject it.
        archive_write_set_bytes_in_last_block(a_.get(), 1);
        archive_write_open(a_.get(), &out_, nullptr, &Tar::cb, nullptr);
    }

    Tar& file(const std::string& path, const std::string& data, mode_t mode = 0644,
              std::int64_t mtime = 1000, int uid = 0, int gid = 0) {
        auto e = entry(path, AE_IFREG | mode, mtime, uid, gid);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
        header(e.get());
        archive_write_data(a_.get(), data.data(), data.size());
        return *this;
    }
    Tar& dir(const std::string& path, mode_t mode = 0755, std::int64_t mtime = 1000) {
        header(entry(path, AE_IFDIR | mode, mtime).get());
        return *this;
    }
    Tar& symlink(const std::string& path, const std::string& target) {
        auto e = entry(path, AE_IFLNK | 0777, 1000);
        archive_entry_copy_symlink(e.get(), target.c_str());
        header(e.get());
        return *this;
    }
    Tar& hardlink(const std::string& path, const std::string& target) {
        auto e = entry(path, AE_IFREG | 0644, 1000);
        archive_entry_copy_hardlink(e.get(), target.c_str());
        archive_entry_set_size(e.get(), 0);
        header(e.get());
        return *this;
    }
    Tar& node(const std::string& path, mode_t type_and_mode, dev_t rdev = 0) {
        auto e = entry(path, type_and_mode, 1000);
        archive_entry_set_rdev(e.get(), rdev);
        header(e.get());
        return *this;
    }
    Tar& xattr_file(const std::string& path, const std::string& name, const std::string& value) {
        auto e = entry(path, AE_IFREG | 0644, 1000);
        archive_entry_set_size(e.get(), 0);
        archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
        header(e.get());
        return *this;
    }

    std::string bytes() {
        if (a_) {
            EXPECT_EQ(archive_write_close(a_.get()), ARCHIVE_OK);
            a_.reset();
        }
        return out_;
    }

  private:
    static la_ssize_t cb(struct archive*, void* ctx, const void* buf, size_t n) {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
    }
    std::unique_ptr<archive_entry, EntryFree> entry(const std::string& path, mode_t mode,
                                                    std::int64_t mtime, int uid = 0, int gid = 0) {
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_copy_pathname(e.get(), path.c_str());
        archive_entry_set_mode(e.get(), mode);
        archive_entry_set_mtime(e.get(), mtime, 0);
        archive_entry_set_uid(e.get(), uid);
        archive_entry_set_gid(e.get(), gid);
        return e;
    }
    void header(archive_entry* e) {
        ASSERT_EQ(archive_write_header(a_.get(), e), ARCHIVE_OK) << archive_error_string(a_.get());
    }

    std::string out_;
    std::unique_ptr<struct archive, ArchiveWriteFree> a_;
};

ReadFn reader_of(const std::string& bytes, std::size_t* pos, bool* saw_end = nullptr) {
    return [&bytes, pos, saw_end](void* buf, std::size_t size) -> std::size_t {
        std::size_t n = std::min(size, bytes.size() - *pos);
        std::memcpy(buf, bytes.data() + *pos, n);
        *pos += n;
        if (n == 0 && saw_end)
            *saw_end = true;
        return n;
    };
}

class ApplyTest : public ::testing::Test {
  protected:
    TempDir tmp{fs::temp_directory_path(), "kiln-apply-test-"};
    fs::path root = tmp.path() / "root";
    fs::path outside = tmp.path() / "outside";  // a sentinel: must stay empty

    void SetUp() override {
        fs::create_directories(root);
        fs::create_directories(outside);
    }

    ApplyStats apply(const std::string& tar) {
        std::size_t pos = 0;
        return apply_layer(reader_of(tar, &pos), root, "test-layer");
    }

    // Applying must fail, naming the layer, and leave everything outside root alone.
    void expect_refused(const std::string& tar) {
        try {
            apply(tar);
            ADD_FAILURE() << "expected kiln::Error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("test-layer"), std::string::npos) << e.what();
        }
        expect_nothing_outside();
    }

    void expect_nothing_outside() {
        EXPECT_TRUE(fs::is_empty(outside)) << "something was written outside the root";
        std::vector<std::string> top;
        for (auto& e : fs::directory_iterator(tmp.path()))
            top.push_back(e.path().filename());
        std::sort(top.begin(), top.end());
        EXPECT_EQ(top, (std::vector<std::string>{"outside", "root"}));
        EXPECT_FALSE(fs::exists("/abs/evil"));
        EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "evil"));
    }

    bool exists(const std::string& rel) const { return fs::exists(fs::symlink_status(root / rel)); }
};

}  // namespace

TEST_F(ApplyTest, RefusesDotDotEntry) {
    expect_refused(Tar().file("../evil", "x").bytes());
}

TEST_F(ApplyTest, RefusesAbsoluteEntry) {
    expect_refused(Tar().file("/abs/evil", "x").bytes());
    EXPECT_FALSE(exists("abs"));
}

TEST_F(ApplyTest, RefusesDotDotInTheMiddle) {
    expect_refused(Tar().file("a/../../evil", "x").bytes());
}

TEST_F(ApplyTest, RefusesEntryBelowSymlinkToOutsideDir) {
    expect_refused(Tar().symlink("link", outside.string()).file("link/file", "x").bytes());
    EXPECT_TRUE(fs::is_symlink(root / "link")) << "the symlink itself is fine";
}

TEST_F(ApplyTest, RefusesWritingThroughRelativeSymlinkUpwards) {
    expect_refused(Tar().symlink("up", "../..").file("up/evil", "x").bytes());
}

TEST_F(ApplyTest, RefusesEntryBelowSymlinkPointingInsideRoot) {
    expect_refused(Tar().dir("real").symlink("alias", "real").file("alias/f", "x").bytes());
    EXPECT_FALSE(exists("real/f"));
}

TEST_F(ApplyTest, RefusesDirectoryEntryBelowSymlink) {
    expect_refused(Tar().symlink("link", outside.string()).dir("link/sub").bytes());
}

TEST_F(ApplyTest, RefusesHardLinkToAbsolutePath) {
    expect_refused(Tar().hardlink("passwd", "/etc/passwd").bytes());
    EXPECT_FALSE(exists("passwd"));
}

TEST_F(ApplyTest, RefusesHardLinkOutsideRoot) {
    write_file_atomic(tmp.path() / "x", "secret");
    try {
        apply(Tar().hardlink("h", "../x").bytes());
        ADD_FAILURE() << "expected kiln::Error";
    } catch (const Error&) {
    }
    fs::remove(tmp.path() / "x");
    EXPECT_FALSE(exists("h"));
    expect_nothing_outside();
}

TEST_F(ApplyTest, RefusesHardLinkThroughSymlink) {
    write_file_atomic(outside / "secret", "s");
    try {
        apply(Tar().symlink("out", outside.string()).hardlink("h", "out/secret").bytes());
        ADD_FAILURE() << "expected kiln::Error";
    } catch (const Error&) {
    }
    EXPECT_FALSE(exists("h"));
    EXPECT_EQ(fs::hard_link_count(outside / "secret"), 1u);
}

TEST_F(ApplyTest, RefusesHardLinkToMissingTarget) {
    expect_refused(Tar().hardlink("h", "nothing-here").bytes());
}

TEST_F(ApplyTest, ReplacesSymlinkWithFileWithoutFollowingIt) {
    ASSERT_EQ(::symlink((outside / "victim").c_str(), (root / "f").c_str()), 0);
    apply(Tar().file("f", "mine").bytes());
    EXPECT_FALSE(fs::is_symlink(root / "f"));
    EXPECT_EQ(read_file(root / "f"), "mine");
    expect_nothing_outside();
}

TEST_F(ApplyTest, ReplacesSymlinkWithDirectoryWithoutFollowingIt) {
    ASSERT_EQ(::symlink(outside.c_str(), (root / "d").c_str()), 0);
    apply(Tar().dir("d").file("d/f", "x").bytes());
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(root / "d")));
    EXPECT_EQ(read_file(root / "d/f"), "x");
    expect_nothing_outside();
}

TEST_F(ApplyTest, WritesFilesDirsSymlinksWithMetadata) {
    apply(Tar()
              .dir("etc", 0750, 1111)
              .file("etc/conf", "k=v\n", 0640, 2222, 1234, 5678)
              .file("bin/suid", "#!", 04755)
              .dir("tmp", 01777)
              .symlink("etc/link", "/does/not/matter")
              .bytes());
    EXPECT_EQ(read_file(root / "etc/conf"), "k=v\n");
    struct stat st;
    ASSERT_EQ(::lstat((root / "etc/conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, S_IFREG | 0640);
    EXPECT_EQ(st.st_mtim.tv_sec, 2222);
    if (::geteuid() == 0) {
        EXPECT_EQ(st.st_uid, 1234u);
        EXPECT_EQ(st.st_gid, 5678u);
    }
    ASSERT_EQ(::lstat((root / "bin/suid").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, S_IFREG | 04755);
    ASSERT_EQ(::lstat((root / "tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, S_IFDIR | 01777);
    ASSERT_EQ(::lstat((root / "etc").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, S_IFDIR | 0750);
    EXPECT_EQ(st.st_mtim.tv_sec, 1111) << "directory mtime set after its children";
    EXPECT_EQ(fs::read_symlink(root / "etc/link"), "/does/not/matter");
}

TEST_F(ApplyTest, CountsEntriesAndWhiteouts) {
    ApplyStats s = apply(Tar().dir("a").file("a/x", "").file("a/.wh.y", "").bytes());
    EXPECT_EQ(s.entries, 3u);
    EXPECT_EQ(s.whiteouts, 1u);
}

TEST_F(ApplyTest, HardLinkInsideRootSharesInode) {
    apply(Tar().file("a", "data").hardlink("dir/b", "a").bytes());
    EXPECT_TRUE(fs::equivalent(root / "a", root / "dir/b"));
    EXPECT_EQ(read_file(root / "dir/b"), "data");
}

TEST_F(ApplyTest, WhiteoutRemovesLowerEntries) {
    apply(Tar().dir("a").file("a/x", "1").file("a/y", "2").dir("b").file("b/deep", "3").bytes());
    apply(Tar().file("a/.wh.x", "").file(".wh.b", "").bytes());
    EXPECT_FALSE(exists("a/x"));
    EXPECT_TRUE(exists("a/y"));
    EXPECT_FALSE(exists("b"));
    EXPECT_FALSE(exists("a/.wh.x"));
    EXPECT_FALSE(exists(".wh.b"));
}

TEST_F(ApplyTest, WhiteoutOfMissingNameIsHarmless) {
    apply(Tar().file("nothing/.wh.x", "").file(".wh.y", "").bytes());
    EXPECT_TRUE(fs::is_empty(root));
}

TEST_F(ApplyTest, WhiteoutKeepsWhatTheSameLayerCreated) {
    apply(Tar().file("x", "new").file(".wh.x", "").bytes());
    EXPECT_EQ(read_file(root / "x"), "new");
}

TEST_F(ApplyTest, OpaqueDirectoryHidesLowerChildren) {
    apply(Tar().dir("d").file("d/old", "1").dir("d/sub").file("d/sub/old2", "2").bytes());
    apply(Tar().dir("d").file("d/.wh..wh..opq", "").file("d/new", "3").bytes());
    EXPECT_FALSE(exists("d/old"));
    EXPECT_FALSE(exists("d/sub"));
    EXPECT_FALSE(exists("d/.wh..wh..opq"));
    EXPECT_EQ(read_file(root / "d/new"), "3");
}

TEST_F(ApplyTest, OpaqueMarkerAfterNewChildrenKeepsOnlyThem) {
    apply(Tar().dir("d").file("d/old", "1").dir("d/sub").file("d/sub/old2", "2").bytes());
    apply(Tar().dir("d").dir("d/sub").file("d/sub/new2", "n").file("d/.wh..wh..opq", "").bytes());
    EXPECT_FALSE(exists("d/old"));
    EXPECT_FALSE(exists("d/sub/old2")) << "d/sub of the lower layer is hidden too";
    EXPECT_EQ(read_file(root / "d/sub/new2"), "n");
}

TEST_F(ApplyTest, DirectoryOverDirectoryUpdatesMetadataKeepsChildren) {
    apply(Tar().dir("d", 0700).file("d/keep", "k").bytes());
    apply(Tar().dir("d", 0755, 4242).bytes());
    struct stat st;
    ASSERT_EQ(::lstat((root / "d").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode, S_IFDIR | 0755);
    EXPECT_EQ(st.st_mtim.tv_sec, 4242);
    EXPECT_EQ(read_file(root / "d/keep"), "k");
}

TEST_F(ApplyTest, FileReplacesLowerDirectory) {
    apply(Tar().dir("p").file("p/child", "c").bytes());
    apply(Tar().file("p", "now a file").bytes());
    EXPECT_EQ(read_file(root / "p"), "now a file");
}

TEST_F(ApplyTest, FileReplacesLowerFile) {
    apply(Tar().file("f", "old", 0600).bytes());
    apply(Tar().file("f", "new", 0644).bytes());
    EXPECT_EQ(read_file(root / "f"), "new");
    EXPECT_EQ(fs::status(root / "f").permissions(), fs::perms(0644));
}

TEST_F(ApplyTest, DetectsGzipAndZstd) {
    for (int f : {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD}) {
        std::string name = f == ARCHIVE_FILTER_GZIP ? "gz" : "zst";
        apply(Tar(f).file(name, name).bytes());
        EXPECT_EQ(read_file(root / name), name);
    }
}

TEST_F(ApplyTest, FifoCreated) {
    apply(Tar().node("p", AE_IFIFO | 0600).bytes());
    EXPECT_TRUE(fs::is_fifo(root / "p"));
}

TEST_F(ApplyTest, DeviceNodeCreatedWhenRoot) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "mknod needs root";
    apply(Tar().node("null", AE_IFCHR | 0666, makedev(1, 3)).bytes());
    struct stat st;
    ASSERT_EQ(::lstat((root / "null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

TEST_F(ApplyTest, XattrsApplied) {
    write_file_atomic(root / ".probe", "");
    bool ok = ::setxattr((root / ".probe").c_str(), "user.p", "1", 1, 0) == 0;
    fs::remove(root / ".probe");
    if (!ok)
        GTEST_SKIP() << "no user xattrs on this filesystem";
    apply(Tar().xattr_file("f", "user.kiln", std::string("a\0b", 3)).bytes());
    char buf[16];
    ssize_t n = ::getxattr((root / "f").c_str(), "user.kiln", buf, sizeof buf);
    ASSERT_EQ(n, 3);
    EXPECT_EQ(std::string(buf, 3), std::string("a\0b", 3));
}

TEST_F(ApplyTest, LargeFileStreams) {
    // 8 MiB of data through a 128 KiB reader; contents come out intact.
    std::string big(8 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 131 % 251);
    apply(Tar(ARCHIVE_FILTER_ZSTD).file("big", big).bytes());
    EXPECT_EQ(read_file(root / "big"), big);
}

TEST_F(ApplyTest, GarbageInputThrows) {
    try {
        apply(std::string(4096, 'z'));
        FAIL() << "expected kiln::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("test-layer"), std::string::npos) << e.what();
    }
}

TEST_F(ApplyTest, TruncatedTarThrows) {
    std::string tar = Tar().file("f", std::string(100000, 'x')).bytes();
    EXPECT_THROW(apply(tar.substr(0, 50000)), Error);
}

TEST_F(ApplyTest, ReadsSourceToItsEnd) {
    // Bytes after the end-of-archive marker are still read, so a verifying
    // source (a blob store reader) gets to check its digest.
    std::string tar = Tar().file("f", "x").bytes() + std::string(300000, '\0');
    std::size_t pos = 0;
    bool saw_end = false;
    apply_layer(reader_of(tar, &pos, &saw_end), root, "test-layer");
    EXPECT_EQ(pos, tar.size());
    EXPECT_TRUE(saw_end);
}

TEST_F(ApplyTest, SourceErrorPropagates) {
    std::string tar = Tar().file("f", "x").bytes();
    std::size_t pos = 0;
    auto inner = reader_of(tar, &pos);
    ReadFn failing = [&](void* buf, std::size_t size) -> std::size_t {
        std::size_t n = inner(buf, size);
        if (n == 0)
            throw Error("corrupt blob sha256:feed");
        return n;
    };
    try {
        apply_layer(failing, root, "test-layer");
        FAIL() << "expected kiln::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt blob"), std::string::npos) << e.what();
    }
}
