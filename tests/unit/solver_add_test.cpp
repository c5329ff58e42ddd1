// ADD's archive extraction and source classification (solver/add_op.h).
// Expected behaviour is BuildKit's (dockerfile2llb dispatchCopy with
// AttemptUnpack, moby's archive.Untar, gitutil.ParseGitRef).
//
// Owners are checked only when running as root (as the other solver tests do).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "content/temp_dir.h"
#include "solver/add_op.h"

// Entries are written with designated initializers naming only what matters.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace kiln::solver {
namespace {

namespace fs = std::filesystem;

struct Entry {
    std::string path;
    mode_t type = AE_IFREG;
    mode_t mode = 0644;
    std::string content;
    std::string symlink;   // for AE_IFLNK
    std::string hardlink;  // non-empty: a hard link to this path
    int64_t uid = 0;
    int64_t gid = 0;
};

enum class Compression { none, gzip, bzip2, xz, zstd };

void make_tar(const fs::path& out, const std::vector<Entry>& entries,
              Compression c = Compression::none) {
    struct archive* a = archive_write_new();
    ASSERT_NE(a, nullptr);
    archive_write_set_format_pax_restricted(a);
    switch (c) {
        case Compression::none:
            break;
        case Compression::gzip:
            archive_write_add_filter_gzip(a);
            break;
        case Compression::bzip2:
            archive_write_add_filter_bzip2(a);
            break;
        case Compression::xz:
            archive_write_add_filter_xz(a);
            break;
        case Compression::zstd:
            archive_write_add_filter_zstd(a);
            break;
    }
    ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK) << archive_error_string(a);
    for (const Entry& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.path.c_str());
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, 1700000000, 0);
        if (!e.hardlink.empty()) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, e.mode);
            archive_entry_set_hardlink(ae, e.hardlink.c_str());
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_filetype(ae, e.type);
            archive_entry_set_perm(ae, e.mode);
            if (e.type == AE_IFLNK)
                archive_entry_set_symlink(ae, e.symlink.c_str());
            archive_entry_set_size(ae, e.type == AE_IFREG ? e.content.size() : 0);
        }
        ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
        if (e.type == AE_IFREG && e.hardlink.empty() && !e.content.empty())
            archive_write_data(a, e.content.data(), e.content.size());
        archive_entry_free(ae);
    }
    ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
}

bool as_root() {
    return ::geteuid() == 0;
}

class AddArchiveTest : public ::testing::Test {
  protected:
    TempDir tmp_{fs::temp_directory_path(), "kiln-add-test-"};
    fs::path dir() const { return tmp_.path(); }
};

class AddArchiveCompressionTest : public AddArchiveTest,
                                  public ::testing::WithParamInterface<Compression> {};

TEST_P(AddArchiveCompressionTest, ExtractsEntriesWithModesLinksAndOwners) {
    fs::path tar = dir() / "archive.bin";
    make_tar(tar,
             {
                 {.path = "d/", .type = AE_IFDIR, .mode = 0750, .uid = 1000, .gid = 1001},
                 {.path = "d/f", .mode = 0640, .content = "hello", .uid = 7, .gid = 8},
                 {.path = "bin", .mode = 04755, .content = "#!/bin/sh\n"},
                 {.path = "d/l", .type = AE_IFLNK, .mode = 0777, .symlink = "f"},
                 {.path = "d/abs", .type = AE_IFLNK, .mode = 0777, .symlink = "/etc/passwd"},
                 {.path = "d/h", .mode = 0640, .hardlink = "d/f"},
                 {.path = ".wh.foo", .content = "not a whiteout"},
                 {.path = "deep/er/file", .content = "x"},
             },
             GetParam());
    ASSERT_TRUE(is_archive(tar));
    fs::path dest = dir() / "root" / "dest";
    extract_archive(tar, dest, std::nullopt);

    EXPECT_EQ(read_file(dest / "d/f"), "hello");
    EXPECT_EQ(lstat_of(dest / "d").st_mode & 07777, 0750u);
    EXPECT_EQ(lstat_of(dest / "d/f").st_mode & 07777, 0640u);
    EXPECT_EQ(lstat_of(dest / "bin").st_mode & 07777, 04755u);
    EXPECT_TRUE(fs::is_symlink(dest / "d/l"));
    EXPECT_EQ(fs::read_symlink(dest / "d/l"), "f");
    EXPECT_EQ(fs::read_symlink(dest / "d/abs"), "/etc/passwd");
    EXPECT_EQ(lstat_of(dest / "d/h").st_ino, lstat_of(dest / "d/f").st_ino);
    // ADD is not a layer: ".wh." names are plain files.
    EXPECT_EQ(read_file(dest / ".wh.foo"), "not a whiteout");
    EXPECT_EQ(read_file(dest / "deep/er/file"), "x");
    EXPECT_EQ(lstat_of(dest / "d/f").st_mtime, 1700000000);
    if (as_root()) {
        EXPECT_EQ(lstat_of(dest / "d").st_uid, 1000u);
        EXPECT_EQ(lstat_of(dest / "d").st_gid, 1001u);
        EXPECT_EQ(lstat_of(dest / "d/f").st_uid, 7u);
        EXPECT_EQ(lstat_of(dest / "d/f").st_gid, 8u);
        EXPECT_EQ(lstat_of(dest / "bin").st_uid, 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(Compressions, AddArchiveCompressionTest,
                         ::testing::Values(Compression::none, Compression::gzip, Compression::bzip2,
                                           Compression::xz, Compression::zstd));

TEST_F(AddArchiveTest, OwnerOverridesTheArchivesOwners) {
    if (!as_root())
        GTEST_SKIP() << "needs root to chown";
    fs::path tar = dir() / "a.tar";
    make_tar(tar, {
                      {.path = "x/y/f", .content = "1", .uid = 5, .gid = 6},
                      {.path = "l", .type = AE_IFLNK, .mode = 0777, .symlink = "x", .uid = 5},
                      {.path = "d/", .type = AE_IFDIR, .mode = 0700, .uid = 9},
                  });
    fs::path dest = dir() / "dest";
    extract_archive(tar, dest, std::make_pair(uid_t{42}, gid_t{43}));
    for (const char* p : {"x", "x/y", "x/y/f", "l", "d"}) {
        EXPECT_EQ(lstat_of(dest / p).st_uid, 42u) << p;
        EXPECT_EQ(lstat_of(dest / p).st_gid, 43u) << p;
    }
}

TEST_F(AddArchiveTest, TarCliArchivesOfEachCompressionAreExtracted) {
    fs::path src = dir() / "src";
    write_file(src / "a/b.txt", "bee");
    fs::create_symlink("b.txt", src / "a/link");
    ASSERT_EQ(::chmod((src / "a/b.txt").c_str(), 0604), 0);
    const std::vector<std::pair<std::string, std::string>> kinds = {
        {"plain", ""}, {"gz", "--gzip"}, {"bz2", "--bzip2"}, {"xz", "--xz"}, {"zst", "--zstd"}};
    for (const auto& [name, flag] : kinds) {
        fs::path tar = dir() / ("cli-" + name + ".data");  // the name says nothing
        std::string cmd =
            "tar -C '" + src.string() + "' " + flag + " -cf '" + tar.string() + "' a 2>/dev/null";
        if (std::system(cmd.c_str()) != 0) {
            ADD_FAILURE() << "tar " << flag << " failed";
            continue;
        }
        ASSERT_TRUE(is_archive(tar)) << name;
        fs::path dest = dir() / ("out-" + name);
        extract_archive(tar, dest, std::nullopt);
        EXPECT_EQ(read_file(dest / "a/b.txt"), "bee") << name;
        EXPECT_EQ(lstat_of(dest / "a/b.txt").st_mode & 07777, 0604u) << name;
        EXPECT_EQ(fs::read_symlink(dest / "a/link"), "b.txt") << name;
    }
}

TEST_F(AddArchiveTest, MergesIntoExistingDestinationAndReplacesFiles) {
    fs::path dest = dir() / "dest";
    write_file(dest / "keep", "kept");
    write_file(dest / "sub/old", "old");
    write_file(dest / "replace", "before");
    fs::path tar = dir() / "a.tar";
    make_tar(tar, {
                      {.path = "./", .type = AE_IFDIR, .mode = 0700},
                      {.path = "sub/", .type = AE_IFDIR, .mode = 0711},
                      {.path = "sub/new", .content = "new"},
                      {.path = "replace", .content = "after"},
                  });
    ::chmod(dest.c_str(), 0755);
    extract_archive(tar, dest, std::nullopt);
    EXPECT_EQ(read_file(dest / "keep"), "kept");
    EXPECT_EQ(read_file(dest / "sub/old"), "old");
    EXPECT_EQ(read_file(dest / "sub/new"), "new");
    EXPECT_EQ(read_file(dest / "replace"), "after");
    EXPECT_EQ(lstat_of(dest / "sub").st_mode & 07777, 0711u);
    // The archive's root entry does not change the destination itself.
    EXPECT_EQ(lstat_of(dest).st_mode & 07777, 0755u);
}

// Each malicious archive is refused with an error naming it, and nothing
// appears in the sentinel directory beside the destination.
class AddMaliciousArchiveTest : public AddArchiveTest {
  protected:
    void expect_refused(const std::vector<Entry>& entries, Compression c = Compression::none) {
        fs::path sentinel = dir() / "sentinel";
        fs::create_directories(sentinel);
        write_file(dir() / "outside", "secret");
        fs::path tar = dir() / "evil.tar";
        make_tar(tar, entries, c);
        fs::path dest = dir() / "dest";
        fs::create_directories(dest);
        try {
            extract_archive(tar, dest, std::nullopt);
            ADD_FAILURE() << "extraction was not refused";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(tar.string()), std::string::npos) << e.what();
        }
        EXPECT_TRUE(fs::is_empty(sentinel));
        EXPECT_EQ(read_file(dir() / "outside"), "secret");
        std::vector<std::string> top;
        for (const auto& e : fs::directory_iterator(dir()))
            top.push_back(e.path().filename().string());
        std::sort(top.begin(), top.end());
        EXPECT_EQ(top, (std::vector<std::string>{"dest", "evil.tar", "outside", "sentinel"}));
    }
};

TEST_F(AddMaliciousArchiveTest, DotDotEntryRefused) {
    expect_refused({{.path = "ok", .content = "1"}, {.path = "../sentinel/x", .content = "pwn"}});
}

TEST_F(AddMaliciousArchiveTest, DotDotInsideEntryRefused) {
    expect_refused({{.path = "a/../../sentinel/x", .content = "pwn"}}, Compression::gzip);
}

TEST_F(AddMaliciousArchiveTest, AbsoluteEntryRefused) {
    std::string abs = (dir() / "sentinel" / "x").string();
    expect_refused({{.path = abs, .content = "pwn"}});
}

TEST_F(AddMaliciousArchiveTest, WriteThroughAbsoluteSymlinkRefused) {
    std::string target = (dir() / "sentinel").string();
    expect_refused({{.path = "l", .type = AE_IFLNK, .mode = 0777, .symlink = target},
                    {.path = "l/x", .content = "pwn"}});
}

TEST_F(AddMaliciousArchiveTest, WriteThroughRelativeSymlinkRefused) {
    expect_refused({{.path = "l", .type = AE_IFLNK, .mode = 0777, .symlink = "../sentinel"},
                    {.path = "l/sub/x", .content = "pwn"}});
}

TEST_F(AddMaliciousArchiveTest, HardLinkOutsideRefused) {
    expect_refused({{.path = "h", .hardlink = "../outside"}});
}

TEST_F(AddMaliciousArchiveTest, AbsoluteHardLinkRefused) {
    expect_refused({{.path = "h", .hardlink = (dir() / "outside").string()}});
}

TEST_F(AddMaliciousArchiveTest, HardLinkThroughSymlinkRefused) {
    expect_refused({{.path = "l", .type = AE_IFLNK, .mode = 0777, .symlink = ".."},
                    {.path = "h", .hardlink = "l/outside"}});
}

TEST_F(AddArchiveTest, FileOverSymlinkReplacesTheLinkNotItsTarget) {
    fs::path sentinel = dir() / "sentinel";
    write_file(sentinel / "victim", "safe");
    fs::path tar = dir() / "a.tar";
    make_tar(
        tar,
        {{.path = "l", .type = AE_IFLNK, .mode = 0777, .symlink = (sentinel / "victim").string()},
         {.path = "l", .content = "pwn"}});
    fs::path dest = dir() / "dest";
    extract_archive(tar, dest, std::nullopt);
    EXPECT_FALSE(fs::is_symlink(dest / "l"));
    EXPECT_EQ(read_file(dest / "l"), "pwn");
    EXPECT_EQ(read_file(sentinel / "victim"), "safe");
}

TEST_F(AddArchiveTest, CorruptArchiveIsAnErrorNamingIt) {
    fs::path tar = dir() / "a.tar.gz";
    make_tar(tar, {{.path = "f", .content = std::string(100000, 'x')}}, Compression::gzip);
    fs::resize_file(tar, fs::file_size(tar) / 2);
    try {
        extract_archive(tar, dir() / "dest", std::nullopt);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(tar.string()), std::string::npos) << e.what();
    }
}

TEST_F(AddArchiveTest, IsArchiveSniffsContentNotName) {
    fs::path targz_as_txt = dir() / "x.txt";
    make_tar(targz_as_txt, {{.path = "f", .content = "1"}}, Compression::gzip);
    EXPECT_TRUE(is_archive(targz_as_txt));

    fs::path text_as_tar = dir() / "x.tar";
    write_file(text_as_tar, "just some text, not a tar\n");
    EXPECT_FALSE(is_archive(text_as_tar));

    fs::path big_text = dir() / "big.tar";
    write_file(big_text, std::string(4096, 'a'));
    EXPECT_FALSE(is_archive(big_text));

    // A compressed file that is not a tar is copied as is (BuildKit).
    fs::path plain = dir() / "notes";
    write_file(plain, "hello\n");
    ASSERT_EQ(std::system(("gzip -k '" + plain.string() + "'").c_str()), 0);
    EXPECT_FALSE(is_archive(dir() / "notes.gz"));

    fs::path empty = dir() / "empty.tar";
    write_file(empty, "");
    EXPECT_FALSE(is_archive(empty));
    EXPECT_FALSE(is_archive(dir()));
    EXPECT_FALSE(is_archive(dir() / "missing"));

    for (Compression c :
         {Compression::none, Compression::bzip2, Compression::xz, Compression::zstd}) {
        fs::path t = dir() / "t.dat";
        make_tar(t, {{.path = "f", .content = "1"}}, c);
        EXPECT_TRUE(is_archive(t)) << static_cast<int>(c);
    }
}

TEST(AddUrlTest, UrlFilename) {
    EXPECT_EQ(url_filename("https://example.com/a/b/file.tar.gz"), "file.tar.gz");
    EXPECT_EQ(url_filename("https://example.com/a/b/file?x=1#frag"), "file");
    EXPECT_EQ(url_filename("https://example.com/dir/"), "dir");
    EXPECT_EQ(url_filename("https://example.com/"), "");
    EXPECT_EQ(url_filename("https://example.com"), "");
}

}  // namespace
}  // namespace kiln::solver
