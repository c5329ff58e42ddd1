// Layer writer: directory → deterministic tar → gzip/zstd blob, and compress_layer.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"
#include "content/atomic_file.h"
#include "content/blob_store.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "exporter/layer_writer.h"
#include "snapshotter/layer_apply.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::exporter;
using content::Digest;

namespace {

struct TarEntry {
    std::string path;
    mode_t mode = 0;  // with file type bits
    std::int64_t uid = 0, gid = 0;
    std::string uname, gname;
    std::int64_t mtime = 0;
    long mtime_nsec = 0;
    bool atime_set = false, ctime_set = false;
    std::int64_t size = 0;
    std::string symlink, hardlink;
    dev_t rdev = 0;
    std::map<std::string, std::string> xattrs;
    std::string data;
};

struct ArchiveReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};

// Reads a (possibly compressed) tar; file data is kept only up to `keep` bytes.
std::vector<TarEntry> read_tar(const fs::path& file, std::size_t keep = 1 << 20) {
    std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    EXPECT_EQ(archive_read_open_filename(a.get(), file.c_str(), 65536), ARCHIVE_OK)
        << archive_error_string(a.get());
    std::vector<TarEntry> out;
    archive_entry* e;
    int rc;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
        TarEntry t;
        t.path = archive_entry_pathname(e);
        t.mode = archive_entry_mode(e);
        t.uid = archive_entry_uid(e);
        t.gid = archive_entry_gid(e);
        if (const char* u = archive_entry_uname(e))
            t.uname = u;
        if (const char* g = archive_entry_gname(e))
            t.gname = g;
        t.mtime = archive_entry_mtime(e);
        t.mtime_nsec = archive_entry_mtime_nsec(e);
        t.atime_set = archive_entry_atime_is_set(e);
        t.ctime_set = archive_entry_ctime_is_set(e);
        t.size = archive_entry_size(e);
        if (const char* s = archive_entry_symlink(e))
            t.symlink = s;
        if (const char* h = archive_entry_hardlink(e))
            t.hardlink = h;
        t.rdev = archive_entry_rdev(e);
        archive_entry_xattr_reset(e);
        const char* name;
        const void* value;
        size_t vsize;
        while (archive_entry_xattr_next(e, &name, &value, &vsize) == ARCHIVE_OK) {
            t.xattrs[name] = std::string(static_cast<const char*>(value), vsize);
        }
        char buf[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
            if (t.data.size() < keep)
                t.data.append(buf, static_cast<std::size_t>(n));
        }
        EXPECT_GE(n, 0) << archive_error_string(a.get());
        out.push_back(std::move(t));
    }
    EXPECT_EQ(rc, ARCHIVE_EOF) << archive_error_string(a.get());
    return out;
}

const TarEntry* find(const std::vector<TarEntry>& v, const std::string& path) {
    for (auto& e : v) {
        if (e.path == path)
            return &e;
    }
    return nullptr;
}

void write(const fs::path& p, const std::string& s, mode_t mode = 0644) {
    write_file_atomic(p, s, mode);
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

void set_mtime(const fs::path& p, std::int64_t sec) {
    timespec ts[2] = {{sec, 123456789}, {sec, 987654321}};
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

bool xattrs_supported(const fs::path& dir) {
    fs::path probe = dir / ".xattr-probe";
    write_file_atomic(probe, "");
    bool ok = ::setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
    fs::remove(probe);
    return ok;
}

std::string sha256_of_command(const std::string& cmd) {
    std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
    EXPECT_TRUE(p);
    content::Sha256 h;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p.get())) > 0)
        h.update(buf, n);
    return h.finish().str();
}

std::string slurp(const fs::path& p) {
    return read_file(p);
}

class LayerWriterTest : public ::testing::Test {
  protected:
    TempDir tmp{fs::temp_directory_path(), "kiln-layer-test-"};
    fs::path tree = tmp.path() / "tree";
    content::StateRoot root{tmp.path() / "root"};
    const content::BlobStore& store = root.blobs();

    void SetUp() override { fs::create_directory(tree); }

    // A small tree with one of most things a layer can hold.
    void populate() {
        fs::create_directories(tree / "etc");
        fs::create_directories(tree / "usr/bin");
        write(tree / "etc/hostname", "kiln\n");
        write(tree / "usr/bin/tool", "#!/bin/sh\necho hi\n", 04755);
        ASSERT_EQ(::symlink("../usr/bin/tool", (tree / "etc/tool-link").c_str()), 0);
        write(tree / "usr/bin/a", "same inode");
        ASSERT_EQ(::link((tree / "usr/bin/a").c_str(), (tree / "usr/bin/b").c_str()), 0);
        fs::create_directories(tree / "tmp");
        ASSERT_EQ(::chmod((tree / "tmp").c_str(), 01777), 0);
        if (::geteuid() == 0) {
            ASSERT_EQ(::lchown((tree / "etc/hostname").c_str(), 1234, 5678), 0);
            ASSERT_EQ(::lchown((tree / "etc/tool-link").c_str(), 42, 43), 0);
        }
    }

    LayerBlob write_tree(Compression c, std::optional<std::int64_t> sde = std::nullopt) {
        LayerOptions o;
        o.compression.kind = c;
        o.source_date_epoch = sde;
        return write_layer(tree, store, o);
    }
};

class LayerRoundTrip : public LayerWriterTest, public ::testing::WithParamInterface<Compression> {};

}  // namespace

TEST_P(LayerRoundTrip, EntriesReadBackWithTheirMetadata) {
    populate();
    LayerBlob b = write_tree(GetParam());
    EXPECT_EQ(b.compression, GetParam());
    EXPECT_EQ(b.size, static_cast<std::int64_t>(fs::file_size(store.path(b.digest))));
    auto entries = read_tar(store.path(b.digest));

    std::vector<std::string> paths;
    for (auto& e : entries)
        paths.push_back(e.path);
    EXPECT_EQ(paths,
              (std::vector<std::string>{"etc/", "etc/hostname", "etc/tool-link", "tmp/", "usr/",
                                        "usr/bin/", "usr/bin/a", "usr/bin/b", "usr/bin/tool"}));

    auto* host = find(entries, "etc/hostname");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->data, "kiln\n");
    EXPECT_EQ(host->mode, S_IFREG | 0644);
    if (::geteuid() == 0) {
        EXPECT_EQ(host->uid, 1234);
        EXPECT_EQ(host->gid, 5678);
        EXPECT_EQ(find(entries, "etc/tool-link")->uid, 42);
    }
    EXPECT_EQ(find(entries, "usr/bin/tool")->mode, S_IFREG | 04755);
    EXPECT_EQ(find(entries, "tmp/")->mode, S_IFDIR | 01777);
    EXPECT_EQ(find(entries, "etc/tool-link")->mode & S_IFMT, S_IFLNK);
    EXPECT_EQ(find(entries, "etc/tool-link")->symlink, "../usr/bin/tool");
    EXPECT_EQ(find(entries, "usr/bin/a")->data, "same inode");
    EXPECT_EQ(find(entries, "usr/bin/b")->hardlink, "usr/bin/a");
    EXPECT_EQ(find(entries, "usr/bin/b")->size, 0);
    for (auto& e : entries) {
        EXPECT_EQ(e.uname, "") << e.path;
        EXPECT_EQ(e.gname, "") << e.path;
        EXPECT_EQ(e.mtime_nsec, 0) << e.path;
        EXPECT_FALSE(e.atime_set) << e.path;
        EXPECT_FALSE(e.ctime_set) << e.path;
    }
}

INSTANTIATE_TEST_SUITE_P(Layer, LayerRoundTrip,
                         ::testing::Values(Compression::none, Compression::gzip, Compression::zstd),
                         [](const auto& info) { return compression_name(info.param); });

TEST_F(LayerWriterTest, LayerEntriesSortedBytewiseByFullPath) {
    // '-' (0x2d) sorts before '/' (0x2f): "a-b" precedes the directory "a/".
    fs::create_directories(tree / "a");
    write(tree / "a/b", "");
    write(tree / "a-b", "");
    write(tree / "B", "");
    write(tree / "a.txt", "");
    auto entries = read_tar(store.path(write_tree(Compression::none).digest));
    std::vector<std::string> paths;
    for (auto& e : entries)
        paths.push_back(e.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"B", "a-b", "a.txt", "a/", "a/b"}));
}

TEST_F(LayerWriterTest, LayerEmptyTreeIsValidEmptyTar) {
    LayerBlob b = write_tree(Compression::none);
    EXPECT_TRUE(read_tar(store.path(b.digest)).empty());
    EXPECT_EQ(b.size, 1024) << "two zero blocks, no padding to a 10 KiB record";
}

TEST_F(LayerWriterTest, LayerXattrsWrittenAsSchilyRecords) {
    if (!xattrs_supported(tree))
        GTEST_SKIP() << "no user xattrs on this filesystem";
    write(tree / "f", "x");
    ASSERT_EQ(::setxattr((tree / "f").c_str(), "user.kiln", "v\0w", 3, 0), 0);
    ASSERT_EQ(::setxattr((tree / "f").c_str(), "user.a", "1", 1, 0), 0);
    LayerBlob b = write_tree(Compression::none);
    auto entries = read_tar(store.path(b.digest));
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].xattrs, (std::map<std::string, std::string>{
                                     {"user.a", "1"}, {"user.kiln", std::string("v\0w", 3)}}));
    std::string raw = slurp(store.path(b.digest));
    EXPECT_NE(raw.find("SCHILY.xattr.user.kiln="), std::string::npos);
    EXPECT_EQ(raw.find("LIBARCHIVE.xattr"), std::string::npos);
}

TEST_F(LayerWriterTest, LayerMtimesClampedToSourceDateEpoch) {
    write(tree / "new", "n");
    write(tree / "old", "o");
    set_mtime(tree / "new", 2000000000);
    set_mtime(tree / "old", 500);
    auto entries = read_tar(store.path(write_tree(Compression::none, 1000).digest));
    EXPECT_EQ(find(entries, "new")->mtime, 1000);
    EXPECT_EQ(find(entries, "old")->mtime, 500);
}

TEST_F(LayerWriterTest, LayerMtimesKeptInWholeSecondsWithoutEpoch) {
    write(tree / "f", "n");
    set_mtime(tree / "f", 1700000000);
    auto entries = read_tar(store.path(write_tree(Compression::none).digest));
    EXPECT_EQ(entries.at(0).mtime, 1700000000);
    EXPECT_EQ(entries.at(0).mtime_nsec, 0);
}

TEST_F(LayerWriterTest, LayerTwoWritesGiveSameDigest) {
    populate();
    for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
        LayerBlob x = write_tree(c);
        LayerBlob y = write_tree(c);
        EXPECT_EQ(x.digest, y.digest) << compression_name(c);
        EXPECT_EQ(x.diff_id, y.diff_id) << compression_name(c);
    }
}

TEST_F(LayerWriterTest, LayerSameDigestWhenNewerMtimesClampedToEpoch) {
    populate();
    auto touch_all = [&](std::int64_t t) {
        for (auto& e : fs::recursive_directory_iterator(tree))
            set_mtime(e.path(), t);
    };
    touch_all(1600000000);
    LayerBlob x = write_tree(Compression::gzip, 1000000);
    touch_all(1700000000);
    LayerBlob y = write_tree(Compression::gzip, 1000000);
    EXPECT_EQ(x.digest, y.digest);
    EXPECT_EQ(x.diff_id, y.diff_id);
    EXPECT_NE(write_tree(Compression::gzip).digest, x.digest) << "unclamped mtimes do differ";
}

TEST_F(LayerWriterTest, LayerUncompressedDigestIsDiffId) {
    populate();
    LayerBlob b = write_tree(Compression::none);
    EXPECT_EQ(b.digest, b.diff_id);
    EXPECT_EQ(Digest::of(slurp(store.path(b.digest))), b.diff_id);
}

TEST_F(LayerWriterTest, LayerGzipDiffIdIsSha256OfGunzippedBlob) {
    populate();
    LayerBlob b = write_tree(Compression::gzip);
    EXPECT_NE(b.digest, b.diff_id);
    EXPECT_EQ(sha256_of_command("gzip -dc '" + store.path(b.digest).string() + "'"),
              b.diff_id.str());
}

TEST_F(LayerWriterTest, LayerZstdDiffIdIsSha256OfUnzstdBlob) {
    populate();
    LayerBlob b = write_tree(Compression::zstd);
    EXPECT_EQ(sha256_of_command("zstd -q -dc '" + store.path(b.digest).string() + "'"),
              b.diff_id.str());
}

TEST_F(LayerWriterTest, LayerLargeSparseFileStreamsThrough) {
    fs::path big = tree / "big";
    {
        UniqueFd fd(::open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        ASSERT_TRUE(fd);
        write_all(fd.get(), "head", 4, "big");
        ASSERT_EQ(::ftruncate(fd.get(), 64 << 20), 0);
        ASSERT_EQ(::pwrite(fd.get(), "tail", 4, (64 << 20) - 4), 4);
    }
    LayerBlob b = write_tree(Compression::zstd);
    auto entries = read_tar(store.path(b.digest), 0);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].size, 64 << 20);
    EXPECT_EQ(sha256_of_command("zstd -q -dc '" + store.path(b.digest).string() + "'"),
              b.diff_id.str());
}

TEST_F(LayerWriterTest, LayerFifoAndDeviceNodes) {
    ASSERT_EQ(::mkfifo((tree / "fifo").c_str(), 0640), 0);
    bool dev = ::geteuid() == 0 &&
               ::mknod((tree / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0 &&
               ::chmod((tree / "null").c_str(), 0666) == 0;  // past the umask
    auto entries = read_tar(store.path(write_tree(Compression::none).digest));
    ASSERT_TRUE(find(entries, "fifo"));
    EXPECT_EQ(find(entries, "fifo")->mode, S_IFIFO | 0640);
    if (dev) {
        ASSERT_TRUE(find(entries, "null"));
        EXPECT_EQ(find(entries, "null")->mode, S_IFCHR | 0666);
        EXPECT_EQ(find(entries, "null")->rdev, makedev(1, 3));
    }
}

TEST_F(LayerWriterTest, LayerMissingDirectoryErrorNamesIt) {
    LayerOptions o;
    try {
        write_layer(tmp.path() / "nope", store, o);
        FAIL() << "expected kiln::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
    }
}

TEST_F(LayerWriterTest, LayerCompressMatchesDirectCompressedWrite) {
    populate();
    LayerBlob plain = write_tree(Compression::none);
    content::StateRoot other(tmp.path() / "other");
    for (Compression c : {Compression::gzip, Compression::zstd}) {
        LayerBlob direct = write_tree(c);
        LayerBlob later = compress_layer(store, plain.diff_id, other.blobs(), {c, -1});
        EXPECT_EQ(later.digest, direct.digest) << compression_name(c);
        EXPECT_EQ(later.diff_id, direct.diff_id);
        EXPECT_EQ(later.size, direct.size);
        EXPECT_EQ(later.compression, c);
        EXPECT_TRUE(other.blobs().has(later.digest));
    }
}

TEST_F(LayerWriterTest, LayerCompressCorruptSourcePublishesNothing) {
    populate();
    LayerBlob plain = write_tree(Compression::none);
    {
        // Flip one byte inside the tar (well before the end) on disk.
        UniqueFd fd(::open(store.path(plain.digest).c_str(), O_WRONLY | O_CLOEXEC));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::pwrite(fd.get(), "X", 1, 600), 1);
    }
    content::StateRoot other(tmp.path() / "other");
    EXPECT_THROW(compress_layer(store, plain.diff_id, other.blobs(), {Compression::gzip, -1}),
                 Error);
    EXPECT_TRUE(fs::is_empty(other.path() / "blobs/sha256"));
    EXPECT_TRUE(fs::is_empty(other.tmp()));
}

TEST_F(LayerWriterTest, LayerCompressMissingSourceThrows) {
    content::StateRoot other(tmp.path() / "other");
    EXPECT_THROW(compress_layer(store, Digest::of("absent"), other.blobs(), {}), Error);
    EXPECT_TRUE(fs::is_empty(other.tmp()));
}

TEST_F(LayerWriterTest, LayerNamesKeptByteForByte) {
    std::string long_name = std::string(150, 'n') + ".txt";
    fs::create_directories(tree / "d\xc3\xa9j\xc3\xa0");
    write(tree / "d\xc3\xa9j\xc3\xa0" / long_name, "long");
    write(tree / "latin1-\xe9", "not utf-8");
    auto entries = read_tar(store.path(write_tree(Compression::none).digest));
    std::vector<std::string> paths;
    for (auto& e : entries)
        paths.push_back(e.path);
    EXPECT_EQ(paths, (std::vector<std::string>{"d\xc3\xa9j\xc3\xa0/",
                                               "d\xc3\xa9j\xc3\xa0/" + long_name, "latin1-\xe9"}));
}

TEST_F(LayerWriterTest, LayerAppliesBackToTheSameTree) {
    populate();
    write(tree / ("caf\xc3\xa9-" + std::string(120, 'x')), "utf-8 and long");
    LayerBlob b = write_tree(Compression::gzip);
    fs::path out = tmp.path() / "applied";
    fs::create_directory(out);
    auto reader = store.reader(b.digest);
    snapshotter::apply_layer([&](void* buf, std::size_t n) { return reader.read(buf, n); }, out,
                             b.digest.str());
    content::StateRoot again_root(tmp.path() / "again");
    LayerOptions o;
    o.compression.kind = Compression::gzip;
    LayerBlob again = write_layer(out, again_root.blobs(), o);
    EXPECT_EQ(again.diff_id, b.diff_id) << "tree → layer → tree → layer is stable";
}

TEST(LayerMediaType, OciAndDockerTypes) {
    namespace mt = content::media_type;
    EXPECT_EQ(layer_media_type(Compression::none, true), mt::kOciLayer);
    EXPECT_EQ(layer_media_type(Compression::gzip, true), mt::kOciLayerGzip);
    EXPECT_EQ(layer_media_type(Compression::zstd, true), mt::kOciLayerZstd);
    EXPECT_EQ(layer_media_type(Compression::none, false), mt::kDockerLayer);
    EXPECT_EQ(layer_media_type(Compression::gzip, false), mt::kDockerLayerGzip);
    EXPECT_EQ(layer_media_type(Compression::zstd, false), mt::kOciLayerZstd);
}

// An incremental step's layer: entries said to be unchanged are copied from the previous
// layer, and the blob is the same as a fresh write of the tree, long (PAX) names and
// hard links included; an entry whose header no longer fits is written afresh.
TEST_F(LayerWriterTest, LayerCopiedFromAPreviousLayerIsTheFreshWrite) {
    populate();
    const std::string long_dir = "usr/share/" + std::string(120, 'd');
    fs::create_directories(tree / long_dir);
    for (int i = 0; i < 5; ++i)
        write(tree / long_dir / ("file-" + std::to_string(i)), std::string(700 * i, 'x'));
    LayerBlob previous = write_tree(Compression::none);

    write(tree / long_dir / "file-2", "edited");  // changed, and said so
    set_mtime(tree / "etc/hostname", 1000);       // changed, but said unchanged
    write(tree / "usr/bin/new", "new file");      // new
    fs::remove(tree / long_dir / "file-4");       // gone
    LayerBlob fresh = write_tree(Compression::none);

    std::size_t asked = 0;
    LayerOptions o;
    o.compression.kind = Compression::none;
    o.previous_store = &store;
    o.previous = previous.diff_id;
    o.unchanged = [&](const std::string& rel) {
        ++asked;
        return rel != long_dir + "/file-2" && rel != "usr/bin/new";
    };
    LayerBlob again = write_layer(tree, store, o);
    EXPECT_EQ(again.digest, fresh.digest);
    EXPECT_GT(asked, 5u);

    // The unchanged entries did come from the previous blob: alter file-1's bytes there.
    const fs::path blob = store.path(previous.diff_id);
    std::string bytes = slurp(blob);
    const auto at = bytes.find(std::string(700, 'x'));
    ASSERT_NE(at, std::string::npos);
    bytes[at] = 'y';
    fs::permissions(blob, fs::perms::owner_read | fs::perms::owner_write);
    std::ofstream(blob, std::ios::binary | std::ios::trunc) << bytes;
    EXPECT_NE(write_layer(tree, store, o).digest, fresh.digest);
}
