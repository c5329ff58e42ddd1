// Streaming compressors: gzip and zstd round trips, determinism, bounded output chunks.
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "base/error.h"
#include "exporter/compression.h"

using namespace kiln;
using namespace kiln::exporter;

namespace {

// Compressible but not trivial: words drawn from a small vocabulary plus noise.
std::string sample_input(std::size_t size, unsigned seed = 1) {
    std::mt19937 rng(seed);
    const char* words[] = {"layer ", "tar ", "kiln ", "digest ", "\n", "zstd ", "gzip "};
    std::string out;
    out.reserve(size);
    while (out.size() < size) {
        if (rng() % 16 == 0) {
            out.push_back(static_cast<char>(rng() & 0xff));
        } else {
            out += words[rng() % 7];
        }
    }
    out.resize(size);
    return out;
}

// Compresses `input`, feeding it in writes of `piece` bytes.
std::string compress(const CompressionOptions& opts, const std::string& input,
                     std::size_t piece = 7919, std::size_t* max_chunk = nullptr) {
    std::string out;
    auto c = make_compressor(opts, [&](const void* d, std::size_t n) {
        if (max_chunk)
            *max_chunk = std::max(*max_chunk, n);
        out.append(static_cast<const char*>(d), n);
    });
    for (std::size_t pos = 0; pos < input.size(); pos += piece) {
        c->write(input.data() + pos, std::min(piece, input.size() - pos));
    }
    c->finish();
    return out;
}

// Reads every member of a gzip file (gzip_blocks.h writes one per block), as
// Go's compress/gzip and kiln's own layer reader do.
std::string gunzip(const std::string& in) {
    z_stream z{};
    EXPECT_EQ(inflateInit2(&z, 31), Z_OK);
    std::string out;
    char buf[65536];
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    int rc;
    for (;;) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << "inflate: " << rc;
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_STREAM_END && z.avail_in > 0)
            inflateReset(&z);  // the next member
        else if (rc != Z_OK)
            break;
    }
    EXPECT_EQ(rc, Z_STREAM_END) << "gzip stream ends early";
    EXPECT_EQ(z.avail_in, 0u) << "trailing bytes after the gzip stream";
    inflateEnd(&z);
    return out;
}

std::string unzstd(const std::string& in) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> d(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    std::string out;
    std::string buf(ZSTD_DStreamOutSize(), '\0');
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    std::size_t rc = 1;
    while (ib.pos < ib.size) {
        ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
        rc = ZSTD_decompressStream(d.get(), &ob, &ib);
        EXPECT_FALSE(ZSTD_isError(rc)) << ZSTD_getErrorName(rc);
        if (ZSTD_isError(rc))
            break;
        out.append(buf.data(), ob.pos);
    }
    EXPECT_EQ(rc, 0u) << "zstd frame not complete";
    return out;
}

}  // namespace

TEST(Compression, ParsesBuildxNames) {
    EXPECT_EQ(parse_compression("gzip"), Compression::gzip);
    EXPECT_EQ(parse_compression("zstd"), Compression::zstd);
    EXPECT_EQ(parse_compression("uncompressed"), Compression::none);
    EXPECT_EQ(parse_compression("none"), Compression::none);
}

TEST(Compression, RejectsUnknownNameNamingIt) {
    try {
        parse_compression("lz4");
        FAIL() << "expected kiln::Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("lz4"), std::string::npos) << e.what();
    }
}

TEST(Compression, NamesRoundTrip) {
    for (Compression c : {Compression::none, Compression::gzip, Compression::zstd}) {
        EXPECT_EQ(parse_compression(compression_name(c)), c);
    }
}

TEST(Compression, NonePassesBytesThrough) {
    std::string in = sample_input(300000);
    EXPECT_EQ(compress({Compression::none, -1}, in), in);
}

TEST(Compression, GzipRoundTrips) {
    std::string in = sample_input(3 << 20);
    std::string out = compress({Compression::gzip, -1}, in);
    EXPECT_LT(out.size(), in.size());
    EXPECT_EQ(gunzip(out), in);
}

TEST(Compression, GzipHeaderHasNoNameAndNoTime) {
    std::string out = compress({Compression::gzip, -1}, "hello");
    ASSERT_GE(out.size(), 10u);
    EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 0x8b);
    EXPECT_EQ(out[3], 0) << "FLG must carry no FNAME/FCOMMENT/FEXTRA";
    EXPECT_EQ(out.substr(4, 4), std::string(4, '\0')) << "MTIME must be 0";
}

TEST(Compression, GzipEmptyInputIsValidStream) {
    EXPECT_EQ(gunzip(compress({Compression::gzip, -1}, "")), "");
}

TEST(Compression, ZstdRoundTrips) {
    std::string in = sample_input(3 << 20);
    std::string out = compress({Compression::zstd, -1}, in);
    EXPECT_LT(out.size(), in.size());
    EXPECT_EQ(unzstd(out), in);
}

TEST(Compression, ZstdEmptyInputIsValidFrame) {
    EXPECT_EQ(unzstd(compress({Compression::zstd, -1}, "")), "");
}

TEST(Compression, OutputIndependentOfWriteSizes) {
    std::string in = sample_input(2 << 20, 7);
    for (Compression k : {Compression::gzip, Compression::zstd}) {
        EXPECT_EQ(compress({k, -1}, in, 1 << 20), compress({k, -1}, in, 4093))
            << compression_name(k);
    }
}

TEST(Compression, LevelsChangeOutputButNotContent) {
    std::string in = sample_input(1 << 20, 3);
    std::string fast = compress({Compression::gzip, 1}, in);
    std::string best = compress({Compression::gzip, 9}, in);
    EXPECT_NE(fast, best);
    EXPECT_EQ(gunzip(fast), in);
    EXPECT_EQ(gunzip(best), in);
    EXPECT_EQ(unzstd(compress({Compression::zstd, 19}, in)), in);
}

TEST(Compression, OutputChunksAreBounded) {
    std::string in(8 << 20, '\0');
    std::mt19937 rng(5);
    for (auto& ch : in)
        ch = static_cast<char>(rng());  // incompressible: output ≈ input
    for (Compression k : {Compression::gzip, Compression::zstd}) {
        std::size_t max_chunk = 0;
        std::string out = compress({k, -1}, in, in.size(), &max_chunk);
        EXPECT_GT(out.size(), in.size() / 2);
        EXPECT_LE(max_chunk, 128u * 1024) << compression_name(k);
    }
}
