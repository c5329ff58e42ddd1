#include "exporter/compression.h"

#include <zstd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "base/error.h"
#include "exporter/gzip_blocks.h"

namespace kiln::exporter {

namespace {

constexpr std::size_t kOutChunk = 128 * 1024;

class PassThrough final : public Compressor {
  public:
    explicit PassThrough(Sink sink) : sink_(std::move(sink)) {}
    void write(const void* data, std::size_t size) override {
        if (size > 0)
            sink_(data, size);
    }
    void finish() override {}

  private:
    Sink sink_;
};

struct ZstdCCtxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

class ZstdCompressor final : public Compressor {
  public:
    ZstdCompressor(int level, Sink sink) : sink_(std::move(sink)), out_(kOutChunk) {
        if (level < 0)
            level = 3;
        ctx_.reset(ZSTD_createCCtx());
        if (!ctx_)
            throw Error("cannot initialise zstd compression: out of memory");
        check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level),
              "cannot set zstd level " + std::to_string(level));
        // zstd's multi-threaded format is the same for any nbWorkers >= 1 but
        // differs from single-threaded output, so always ask for at least one
        // worker: the blob does not depend on how many cores the builder has.
        // A libzstd built without threads refuses; it then compresses inline.
        unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        std::size_t rc =
            ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_nbWorkers, static_cast<int>(cores));
        (void)rc;  // an error here only means "no threads": keep single-threaded.
    }

    void write(const void* data, std::size_t size) override {
        ZSTD_inBuffer in{data, size, 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer out{out_.data(), out_.size(), 0};
            check(ZSTD_compressStream2(ctx_.get(), &out, &in, ZSTD_e_continue),
                  "zstd compression failed");
            if (out.pos > 0)
                sink_(out_.data(), out.pos);
        }
    }

    void finish() override {
        if (finished_)
            return;
        ZSTD_inBuffer in{nullptr, 0, 0};
        for (;;) {
            ZSTD_outBuffer out{out_.data(), out_.size(), 0};
            std::size_t remaining = ZSTD_compressStream2(ctx_.get(), &out, &in, ZSTD_e_end);
            check(remaining, "zstd compression failed");
            if (out.pos > 0)
                sink_(out_.data(), out.pos);
            if (remaining == 0)
                break;
        }
        finished_ = true;
    }

  private:
    static void check(std::size_t rc, const std::string& what) {
        if (ZSTD_isError(rc))
            throw Error(what + ": " + ZSTD_getErrorName(rc));
    }

    Sink sink_;
    std::vector<char> out_;
    std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> ctx_;
    bool finished_ = false;
};

}  // namespace

Compression parse_compression(const std::string& name) {
    if (name == "gzip")
        return Compression::gzip;
    if (name == "zstd")
        return Compression::zstd;
    if (name == "uncompressed" || name == "none")
        return Compression::none;
    throw Error("unknown compression \"" + name + "\" (expected gzip, zstd or uncompressed)");
}

std::string compression_name(Compression c) {
    switch (c) {
        case Compression::none:
            return "uncompressed";
        case Compression::gzip:
            return "gzip";
        case Compression::zstd:
            return "zstd";
    }
    return "unknown";
}

std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options, Sink downstream) {
    switch (options.kind) {
        case Compression::none:
            return std::make_unique<PassThrough>(std::move(downstream));
        case Compression::gzip:
            return make_block_gzip(options.level, std::move(downstream));
        case Compression::zstd:
            return std::make_unique<ZstdCompressor>(options.level, std::move(downstream));
    }
    throw Error("unknown compression kind");
}

}  // namespace kiln::exporter
