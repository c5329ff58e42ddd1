// Parallel gzip in blocks: a standard gzip file (one member per block) out, the same bytes
// whatever the thread count or write sizes, a ratio no worse than one zlib stream's, errors
// that surface.
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/process.h"
#include "exporter/gzip_blocks.h"

using namespace kiln;
using namespace kiln::exporter;

namespace {

// Text-like and compressible, with enough noise that blocks differ.
std::string sample(std::size_t size, unsigned seed = 1) {
    std::mt19937 rng(seed);
    const char* words[] = {"usr/lib/", "x86_64-linux-gnu ", "libc.so.6 ", "\n", "0644 ", "root "};
    std::string out;
    out.reserve(size);
    while (out.size() < size) {
        if (rng() % 8 == 0)
            out.push_back(static_cast<char>(rng() & 0xff));
        else
            out += words[rng() % 6];
    }
    out.resize(size);
    return out;
}

std::string block_gzip(const std::string& in, unsigned threads, int level = -1,
                       std::size_t piece = 65521) {
    std::string out;
    auto c = make_block_gzip(
        level, [&](const void* d, std::size_t n) { out.append(static_cast<const char*>(d), n); },
        threads);
    for (std::size_t at = 0; at < in.size(); at += piece)
        c->write(in.data() + at, std::min(piece, in.size() - at));
    c->finish();
    return out;
}

// One zlib stream, as gzip(1) writes it: the ratio to compare with.
std::size_t one_stream_size(const std::string& in, int level) {
    uLongf n = compressBound(static_cast<uLong>(in.size()));
    std::string out(n, '\0');
    EXPECT_EQ(
        compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                  reinterpret_cast<const Bytef*>(in.data()), static_cast<uLong>(in.size()), level),
        Z_OK);
    return n;
}

// gunzip(1), an independent reader; -t first: its integrity check (CRC and length).
std::string system_gunzip(const std::string& gz) {
    RunOptions run;
    run.input = gz;
    run.max_captured = 64 << 20;
    for (const char* flag : {"-t", "-dc"}) {
        ProcessOptions p;
        p.argv = {"gzip", flag};
        p.in = Stdio::piped();
        p.out = Stdio::piped();
        p.err = Stdio::piped();
        auto r = run_process(p, run);
        EXPECT_EQ(r.exit_code, 0) << "gzip " << flag << ": " << r.err;
        if (std::string(flag) == "-dc")
            return r.out;
    }
    return "";
}

}  // namespace

TEST(GzipBlocks, ManyBlocksReadBackByGunzip) {
    std::string in = sample(5 * kGzipBlockSize + 12345);
    std::string gz = block_gzip(in, 2);
    EXPECT_EQ(system_gunzip(gz), in);
    // Six members, each a complete gzip header (magic, deflate, no name, mtime 0).
    const std::string header("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
    std::size_t members = 0;
    for (std::size_t at = gz.find(header); at != std::string::npos; at = gz.find(header, at + 1))
        ++members;
    EXPECT_GE(members, 6u);
    EXPECT_EQ(gz.compare(0, header.size(), header), 0);
}

TEST(GzipBlocks, SameBytesWhateverTheThreadCount) {
    std::string in = sample(7 * kGzipBlockSize + 1, 2);
    std::string one = block_gzip(in, 1);
    EXPECT_EQ(block_gzip(in, 2), one);
    EXPECT_EQ(block_gzip(in, 5), one);
}

TEST(GzipBlocks, SameBytesWhateverTheWriteSizes) {
    std::string in = sample(3 * kGzipBlockSize + 77, 3);
    EXPECT_EQ(block_gzip(in, 2, -1, 1), block_gzip(in, 2, -1, 3 * kGzipBlockSize));
    EXPECT_EQ(block_gzip(in, 2, -1, kGzipBlockSize), block_gzip(in, 2, -1, 4093));
}

TEST(GzipBlocks, InputOfExactlyWholeBlocks) {
    std::string in = sample(2 * kGzipBlockSize, 4);
    EXPECT_EQ(system_gunzip(block_gzip(in, 2)), in);
}

TEST(GzipBlocks, EmptyInputIsAValidGzip) {
    EXPECT_EQ(system_gunzip(block_gzip("", 2)), "");
}

TEST(GzipBlocks, RatioNoWorseThanOneZlibStream) {
    // Real bytes (this test's own machine code and strings), as layers hold: blocks cost a
    // little history, libdeflate wins more back.
    std::ifstream self("/proc/self/exe", std::ios::binary);
    std::string in(6 * kGzipBlockSize, '\0');
    self.read(in.data(), static_cast<std::streamsize>(in.size()));
    in.resize(static_cast<std::size_t>(self.gcount()));
    ASSERT_GT(in.size(), 2 * kGzipBlockSize);
    for (int level : {1, 6, 9}) {
        const double blocks = static_cast<double>(block_gzip(in, 2, level).size());
        const double stream = static_cast<double>(one_stream_size(in, level));
        EXPECT_LE(blocks, stream * 1.005) << "level " << level;
    }
}

TEST(GzipBlocks, LevelZeroStoresAndStillReads) {
    std::string in = sample(kGzipBlockSize + 5, 6);
    std::string out = block_gzip(in, 2, 0);
    EXPECT_GT(out.size(), in.size());
    EXPECT_EQ(system_gunzip(out), in);
}

TEST(GzipBlocks, RefusesLevelAboveNine) {
    EXPECT_THROW(make_block_gzip(10, [](const void*, std::size_t) {}), Error);
}

TEST(GzipBlocks, SinkErrorSurfacesAndNothingHangs) {
    std::string in = sample(9 * kGzipBlockSize, 7);
    std::size_t calls = 0;
    auto c = make_block_gzip(
        -1,
        [&](const void*, std::size_t) {
            if (++calls == 3)
                throw Error("disk full");
        },
        2);
    EXPECT_THROW(
        {
            for (std::size_t at = 0; at < in.size(); at += 100000)
                c->write(in.data() + at, std::min<std::size_t>(100000, in.size() - at));
            c->finish();
        },
        Error);
    c.reset();  // waits for the blocks still compressing
}
