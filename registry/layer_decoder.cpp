#include "registry/layer_decoder.h"

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/limits.h"

namespace kiln::registry {

namespace {

constexpr std::size_t kChunk = 1 << 16;

enum class Format { unknown, gzip, zstd, plain };

}  // namespace

struct LayerDecoder::Impl {
    content::Digest blob;
    Sink out;
    Format format = Format::unknown;
    std::string head;  // the first bytes, until the format is known
    std::uint64_t total = 0;
    std::vector<char> obuf;
    z_stream z{};
    bool z_open = false;
    bool member_ended = false;  // gzip: at the end of a member
    ZSTD_DCtx* zstd = nullptr;
    std::size_t zstd_last = 1;  // ZSTD_decompressStream's hint: 0 at a frame's end

    ~Impl() {
        if (z_open)
            inflateEnd(&z);
        ZSTD_freeDCtx(zstd);
    }

    [[noreturn]] void damaged(const std::string& why) const {
        throw Error("layer " + blob.str() + ": cannot decompress: " + why);
    }

    void emit(const char* p, std::size_t n) {
        if (n == 0)
            return;
        total += n;
        if (total > max_layer_size())
            throw_layer_too_large("layer " + blob.str());
        out(p, n);
    }

    void start(std::string_view first) {
        auto magic = [&](std::string_view m) { return first.substr(0, m.size()) == m; };
        if (first.size() >= 2 && magic("\x1f\x8b")) {
            format = Format::gzip;
            if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                damaged("zlib init failed");
            z_open = true;
            obuf.resize(kChunk);
        } else if (first.size() >= 4 && magic("\x28\xb5\x2f\xfd")) {
            format = Format::zstd;
            zstd = ZSTD_createDCtx();
            if (!zstd)
                damaged("zstd init failed");
            obuf.resize(ZSTD_DStreamOutSize());
        } else {
            format = Format::plain;
        }
    }

    void gunzip(const char* p, std::size_t n) {
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
        z.avail_in = static_cast<uInt>(n);
        while (z.avail_in > 0) {
            if (member_ended) {
                inflateReset(&z);
                member_ended = false;
            }
            z.next_out = reinterpret_cast<Bytef*>(obuf.data());
            z.avail_out = static_cast<uInt>(obuf.size());
            int rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                damaged(z.msg ? z.msg : "gzip data error");
            emit(obuf.data(), obuf.size() - z.avail_out);
            if (rc == Z_STREAM_END)
                member_ended = true;
            else if (rc == Z_BUF_ERROR && z.avail_out != 0)
                break;
        }
    }

    void unzstd(const char* p, std::size_t n) {
        ZSTD_inBuffer input{p, n, 0};
        while (input.pos < input.size) {
            ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
            zstd_last = ZSTD_decompressStream(zstd, &output, &input);
            if (ZSTD_isError(zstd_last))
                damaged(ZSTD_getErrorName(zstd_last));
            emit(obuf.data(), output.pos);
        }
    }

    void decode(const char* p, std::size_t n) {
        // zlib counts input in uInt: feed it no more than a chunk at a time.
        while (n > 0) {
            std::size_t k = std::min(n, kChunk);
            switch (format) {
                case Format::gzip:
                    gunzip(p, k);
                    break;
                case Format::zstd:
                    unzstd(p, k);
                    break;
                default:
                    emit(p, k);
            }
            p += k;
            n -= k;
        }
    }
};

LayerDecoder::LayerDecoder(content::Digest blob, Sink out) : impl_(std::make_unique<Impl>()) {
    impl_->blob = std::move(blob);
    impl_->out = std::move(out);
}

LayerDecoder::~LayerDecoder() = default;

void LayerDecoder::write(const char* data, std::size_t size) {
    Impl& d = *impl_;
    if (d.format == Format::unknown) {
        d.head.append(data, size);
        if (d.head.size() < 4)
            return;
        d.start(d.head);
        std::string first = std::move(d.head);
        d.head.clear();
        d.decode(first.data(), first.size());
        return;
    }
    d.decode(data, size);
}

void LayerDecoder::finish() {
    Impl& d = *impl_;
    if (d.format == Format::unknown) {
        std::string first = std::move(d.head);
        d.start(first);
        d.decode(first.data(), first.size());
    }
    if (d.format == Format::gzip && !d.member_ended)
        d.damaged("gzip stream ends early");
    if (d.format == Format::zstd && d.zstd_last != 0)
        d.damaged("zstd stream ends early");
}

}  // namespace kiln::registry
