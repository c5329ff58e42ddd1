// store_uncompressed: a pulled layer's uncompressed twin, verified against
// its diffID, named only when whole and right.
#include <gtest/gtest.h>
#include <zstd.h>

#include <filesystem>
#include <string>

#include "base/error.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/layer_unpack.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
using content::Digest;

std::string zstd_compress(const std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n)) {
        throw std::runtime_error(ZSTD_getErrorName(n));
    }
    out.resize(n);
    return out;
}

// Stands in for a tar: store_uncompressed only decompresses and verifies.
// Over 64 KiB, so the streams span several reads, and not very compressible.
std::string layer_bytes() {
    std::string s;
    std::uint32_t x = 12345;
    while (s.size() < 200'000) {
        x = x * 1103515245 + 12345;
        s += "file-" + std::to_string(x % 1000) + (x % 7 ? "\n" : "\t");
    }
    return s;
}

class RegistryLayerUnpack : public ::testing::Test {
  protected:
    TempDir dir{fs::temp_directory_path(), "kiln-unpack-"};
    content::StateRoot root{dir.path() / "root"};
    const content::BlobStore& store = root.blobs();
    const std::string tar = layer_bytes();
    const Digest diff_id = Digest::of(tar);

    std::size_t blob_count() {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e :
             fs::directory_iterator(store.layout() / "blobs" / "sha256")) {
            ++n;
        }
        return n;
    }
};

TEST_F(RegistryLayerUnpack, Gzip) {
    Digest gz = store.put(fake::gzip(tar)).digest;
    auto info = store_uncompressed(store, gz, diff_id);
    EXPECT_EQ(info.digest, diff_id);
    EXPECT_EQ(info.size, static_cast<std::int64_t>(tar.size()));
    EXPECT_EQ(store.read_all(diff_id), tar);
}

TEST_F(RegistryLayerUnpack, ConcatenatedGzipMembersAreOneStream) {
    const std::string a = tar.substr(0, 70'001), b = tar.substr(70'001);
    Digest gz = store.put(fake::gzip(a) + fake::gzip(b)).digest;
    store_uncompressed(store, gz, diff_id);
    EXPECT_EQ(store.read_all(diff_id), tar);
}

TEST_F(RegistryLayerUnpack, Zstd) {
    Digest zst = store.put(zstd_compress(tar)).digest;
    auto info = store_uncompressed(store, zst, diff_id);
    EXPECT_EQ(info.digest, diff_id);
    EXPECT_EQ(store.read_all(diff_id), tar);
}

TEST_F(RegistryLayerUnpack, UncompressedTarCopied) {
    // A small plain layer; its first bytes are a tar header's file name.
    const std::string small = "etc/hostname" + std::string(500, '\0');
    Digest plain = store.put(small).digest;
    auto info = store_uncompressed(store, plain, Digest::of(small));
    EXPECT_EQ(info.digest, Digest::of(small));
    EXPECT_EQ(store.read_all(info.digest), small);
}

TEST_F(RegistryLayerUnpack, TruncatedGzipNamesTheBlobAndNamesNothing) {
    const std::string gz = fake::gzip(tar);
    Digest cut = store.put(gz.substr(0, gz.size() / 2)).digest;
    const std::size_t before = blob_count();
    try {
        store_uncompressed(store, cut, diff_id);
        FAIL() << "a truncated gzip stream was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(cut.str()), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store.has(diff_id));
    EXPECT_EQ(blob_count(), before);
}

TEST_F(RegistryLayerUnpack, GzipMissingOnlyItsTrailerIsDamaged) {
    const std::string gz = fake::gzip(tar);
    Digest cut = store.put(gz.substr(0, gz.size() - 4)).digest;  // no ISIZE
    EXPECT_THROW(store_uncompressed(store, cut, diff_id), Error);
    EXPECT_FALSE(store.has(diff_id));
}

TEST_F(RegistryLayerUnpack, CorruptGzipDataNamesTheBlob) {
    std::string gz = fake::gzip(tar);
    for (std::size_t i = 20; i < 60; ++i) {
        gz[i] = static_cast<char>(gz[i] ^ 0x5a);
    }
    Digest bad = store.put(gz).digest;
    try {
        store_uncompressed(store, bad, diff_id);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(bad.str()), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store.has(diff_id));
}

TEST_F(RegistryLayerUnpack, TruncatedZstdNamesTheBlobAndNamesNothing) {
    const std::string zst = zstd_compress(tar);
    Digest cut = store.put(zst.substr(0, zst.size() - 10)).digest;
    const std::size_t before = blob_count();
    try {
        store_uncompressed(store, cut, diff_id);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(cut.str()), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store.has(diff_id));
    EXPECT_EQ(blob_count(), before);
}

TEST_F(RegistryLayerUnpack, ContentNotTheDiffIdIsRefusedAndNothingNamed) {
    Digest gz = store.put(fake::gzip(tar)).digest;
    Digest claimed = Digest::of("what the config says");
    const std::size_t before = blob_count();
    try {
        store_uncompressed(store, gz, claimed);
        FAIL();
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(gz.str()), std::string::npos) << msg;
        EXPECT_NE(msg.find(claimed.str()), std::string::npos) << msg;
    }
    EXPECT_FALSE(store.has(claimed));
    EXPECT_FALSE(store.has(diff_id));  // the real content is not kept either
    EXPECT_EQ(blob_count(), before);
}

TEST_F(RegistryLayerUnpack, MissingCompressedBlobIsAnError) {
    EXPECT_THROW(store_uncompressed(store, Digest::of("never stored"), diff_id), Error);
    EXPECT_FALSE(store.has(diff_id));
}

}  // namespace
}  // namespace kiln::registry
