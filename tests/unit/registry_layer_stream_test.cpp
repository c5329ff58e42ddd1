// LayerDecoder and LayerStream: a layer decompressed, stored and handed to an
// unpacker while it downloads, in chunks of any size, and an unpacker that
// never sees the end of a layer that did not verify.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>

#include "base/error.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/layer_decoder.h"
#include "registry/layer_stream.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
using content::Digest;

// Not very compressible, and larger than LayerStream::kInFlight when asked.
std::string layer_bytes(std::size_t size) {
    std::string s;
    std::uint32_t x = 777;
    while (s.size() < size) {
        x = x * 1103515245 + 12345;
        s += "entry-" + std::to_string(x % 100000) + (x % 5 ? "\n" : "\t");
    }
    return s;
}

std::string decode_in_pieces(const std::string& blob, std::size_t piece) {
    std::string out;
    LayerDecoder d(Digest::of(blob), [&](const char* p, std::size_t n) { out.append(p, n); });
    for (std::size_t at = 0; at < blob.size(); at += piece)
        d.write(blob.data() + at, std::min(piece, blob.size() - at));
    d.finish();
    return out;
}

TEST(LayerDecoder, OutputDoesNotDependOnHowTheInputIsCut) {
    const std::string tar = layer_bytes(150'000);
    const std::string gz = fake::gzip(tar.substr(0, 5000)) + fake::gzip(tar.substr(5000));
    std::string zst(ZSTD_compressBound(tar.size()), '\0');
    zst.resize(ZSTD_compress(zst.data(), zst.size(), tar.data(), tar.size(), 3));
    for (std::size_t piece : {1, 3, 4096, 1 << 20}) {
        EXPECT_EQ(decode_in_pieces(gz, piece), tar) << "gzip in pieces of " << piece;
        EXPECT_EQ(decode_in_pieces(zst, piece), tar) << "zstd in pieces of " << piece;
        EXPECT_EQ(decode_in_pieces(tar, piece), tar) << "plain in pieces of " << piece;
    }
}

TEST(LayerDecoder, StreamCutInsideAMemberIsDamaged) {
    const std::string gz = fake::gzip(layer_bytes(10'000));
    LayerDecoder d(Digest::of(gz), [](const char*, std::size_t) {});
    d.write(gz.data(), gz.size() - 3);
    EXPECT_THROW(d.finish(), Error);
}

// gzip with every optional header field (RFC 1952 FEXTRA, FNAME, FCOMMENT,
// FHCRC), as some producers write them.
std::string gzip_with_header_fields(const std::string& data) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string extra = "kiln", name = "layer.tar", comment = "made by a test";
    gz_header h{};
    h.extra = reinterpret_cast<Bytef*>(extra.data());
    h.extra_len = static_cast<uInt>(extra.size());
    h.name = reinterpret_cast<Bytef*>(name.data());
    h.comment = reinterpret_cast<Bytef*>(comment.data());
    h.hcrc = 1;
    EXPECT_EQ(deflateSetHeader(&z, &h), Z_OK);
    std::string out(deflateBound(&z, data.size()) + 128, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    return out;
}

std::string decode_error(const std::string& blob) {
    try {
        decode_in_pieces(blob, 4096);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(LayerDecoder, GzipHeaderFieldsAreSkipped) {
    const std::string tar = layer_bytes(70'000);
    const std::string gz = gzip_with_header_fields(tar);
    for (std::size_t piece : {1, 7, 1 << 20})
        EXPECT_EQ(decode_in_pieces(gz, piece), tar) << "in pieces of " << piece;
}

TEST(LayerDecoder, WrongHeaderChecksumIsDamaged) {
    std::string gz = gzip_with_header_fields(layer_bytes(10'000));
    // FHCRC is the two bytes before the deflate data: after "made by a test\0".
    std::size_t at = gz.find(std::string("made by a test") + '\0') + 15;
    gz[at] ^= 0x01;
    EXPECT_NE(decode_error(gz).find("header crc mismatch"), std::string::npos) << decode_error(gz);
}

TEST(LayerDecoder, StreamCutInsideTheNextHeaderIsDamaged) {
    const std::string gz = fake::gzip(layer_bytes(10'000));
    LayerDecoder d(Digest::of(gz), [](const char*, std::size_t) {});
    d.write(gz.data(), gz.size());
    d.write(gz.data(), 5);  // half of another member's header
    EXPECT_THROW(d.finish(), Error);
}

TEST(LayerDecoder, WrongChecksumInTheTrailerIsDamaged) {
    std::string gz = fake::gzip(layer_bytes(10'000));
    gz[gz.size() - 8] ^= 0x01;  // CRC-32, first byte
    EXPECT_NE(decode_error(gz).find("cannot decompress"), std::string::npos);
}

TEST(LayerDecoder, WrongSizeInTheTrailerIsDamaged) {
    std::string gz = fake::gzip(layer_bytes(10'000));
    gz[gz.size() - 4] ^= 0x01;  // ISIZE, first byte
    EXPECT_NE(decode_error(gz).find("cannot decompress"), std::string::npos);
}

TEST(LayerDecoder, BytesAfterTheLastMemberThatAreNotGzipAreDamaged) {
    const std::string gz = fake::gzip(layer_bytes(10'000)) + "this is not gzip";
    EXPECT_NE(decode_error(gz).find("cannot decompress"), std::string::npos);
}

TEST(LayerDecoder, CorruptDeflateDataIsDamaged) {
    std::string gz = fake::gzip(layer_bytes(50'000));
    for (std::size_t i = 20; i < 60; ++i)
        gz[i] = static_cast<char>(0xff);
    EXPECT_NE(decode_error(gz).find("cannot decompress"), std::string::npos);
}

class RegistryLayerStream : public ::testing::Test {
  protected:
    TempDir dir{fs::temp_directory_path(), "kiln-stream-"};
    content::StateRoot root{dir.path() / "root"};
    const content::BlobStore& store = root.blobs();

    // What an unpacker saw: the bytes, and whether it met the end or an error.
    struct Seen {
        std::mutex mu;
        std::string bytes;
        bool ended = false;
        std::string error;
    };
    static std::function<void(const LayerReader&)> reader_into(Seen& seen) {
        return [&seen](const LayerReader& read) {
            char buf[1000];
            try {
                while (std::size_t n = read(buf, sizeof buf)) {
                    std::lock_guard lock(seen.mu);
                    seen.bytes.append(buf, n);
                }
                seen.ended = true;
            } catch (const Error& e) {
                seen.error = e.what();
                throw;
            }
        };
    }
    static void feed(BlobTee& tee, const std::string& bytes, std::size_t piece) {
        for (std::size_t at = 0; at < bytes.size(); at += piece)
            tee.write(bytes.data() + at, std::min(piece, bytes.size() - at));
    }
};

TEST_F(RegistryLayerStream, UnpackerGetsTheTarAndTheEndOnceTheTwinIsStored) {
    const std::string tar = layer_bytes(300'000);
    const std::string gz = fake::gzip(tar);
    Seen seen;
    {
        LayerStream s(store, Digest::of(gz), Digest::of(tar), reader_into(seen));
        feed(s, gz, 777);
        EXPECT_FALSE(store.has(Digest::of(tar))) << "the twin was named before finish()";
        EXPECT_TRUE(s.finish());
    }
    EXPECT_TRUE(seen.ended) << seen.error;
    EXPECT_EQ(seen.bytes, tar);
    EXPECT_EQ(store.read_all(Digest::of(tar)), tar);
}

TEST_F(RegistryLayerStream, WrongDiffIdEndsTheReaderWithAnErrorAndStoresNothing) {
    const std::string tar = layer_bytes(50'000);
    const std::string gz = fake::gzip(tar);
    const Digest wrong = Digest::of("another layer");
    Seen seen;
    {
        LayerStream s(store, Digest::of(gz), wrong, reader_into(seen));
        feed(s, gz, 4096);
        EXPECT_FALSE(s.finish());
    }
    EXPECT_FALSE(seen.ended);
    EXPECT_NE(seen.error.find("did not complete"), std::string::npos) << seen.error;
    EXPECT_FALSE(store.has(wrong));
    EXPECT_FALSE(store.has(Digest::of(tar)));
}

TEST_F(RegistryLayerStream, DownloadStartingOverBreaksTheStream) {
    const std::string tar = layer_bytes(50'000);
    const std::string gz = fake::gzip(tar);
    Seen seen;
    {
        LayerStream s(store, Digest::of(gz), Digest::of(tar), reader_into(seen));
        feed(s, gz.substr(0, gz.size() / 2), 1000);
        s.restart();
        feed(s, gz, 1000);
        EXPECT_FALSE(s.finish()) << "a restarted download was taken as one stream";
    }
    EXPECT_FALSE(seen.ended);
    EXPECT_FALSE(store.has(Digest::of(tar)));
}

TEST_F(RegistryLayerStream, DamagedBytesBreakTheStream) {
    const std::string tar = layer_bytes(50'000);
    std::string gz = fake::gzip(tar);
    gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x55);
    Seen seen;
    {
        LayerStream s(store, Digest::of(gz), Digest::of(tar), reader_into(seen));
        feed(s, gz, 1000);
        EXPECT_FALSE(s.finish());
    }
    EXPECT_FALSE(seen.ended);
    EXPECT_FALSE(store.has(Digest::of(tar)));
}

TEST_F(RegistryLayerStream, UnpackerThatStopsEarlyDoesNotHoldUpTheDownload) {
    // More than the in-flight bound: were the bytes still queued for a reader
    // that has gone, feed() would wait for ever.
    const std::string tar = layer_bytes(3 * LayerStream::kInFlight);
    const std::string gz = fake::gzip(tar);
    std::atomic<bool> threw = false;
    {
        LayerStream s(store, Digest::of(gz), Digest::of(tar), [&](const LayerReader& read) {
            char c;
            read(&c, 1);
            threw = true;
            throw Error("the unpacker refuses this layer");
        });
        feed(s, gz, 1 << 16);
        EXPECT_TRUE(s.finish()) << "the unpacker's failure is not the download's";
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(store.read_all(Digest::of(tar)), tar);
}

TEST_F(RegistryLayerStream, DroppedWithoutFinishEndsTheReaderWithAnError) {
    const std::string tar = layer_bytes(50'000);
    const std::string gz = fake::gzip(tar);
    Seen seen;
    {
        LayerStream s(store, Digest::of(gz), Digest::of(tar), reader_into(seen));
        feed(s, gz, 1000);
    }  // as when fetch_blob() throws
    EXPECT_FALSE(seen.ended);
    EXPECT_FALSE(seen.error.empty());
    EXPECT_FALSE(store.has(Digest::of(tar)));
}

}  // namespace
}  // namespace kiln::registry
