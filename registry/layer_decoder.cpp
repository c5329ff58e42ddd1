#include "registry/layer_decoder.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/limits.h"
#include "registry/gzip_header.h"

namespace kiln::registry {

namespace {

constexpr std::size_t kChunk = 1 << 16;
// ISA-L inflates fastest into large buffers (it slows down near their end).
constexpr std::size_t kGzipOut = 1 << 18;

enum class Format { unknown, gzip, zstd, plain };

}  // namespace

struct LayerDecoder::Impl {
    content::Digest blob;
    Sink out;
    Format format = Format::unknown;
    std::string head;  // the first bytes, until the format is known
    std::uint64_t total = 0;
    std::vector<char> obuf;
    // gzip: headers read here (gzip_header.h), deflate data and trailers by
    // ISA-L's igzip, about three times zlib's speed: the inflate is a pull's
    // longest step. The state is large (~100 KiB).
    GzipHeader header;
    std::unique_ptr<inflate_state> gz;
    bool members = false;  // at least one member has ended
    ZSTD_DCtx* zstd = nullptr;
    std::size_t zstd_last = 1;  // ZSTD_decompressStream's hint: 0 at a frame's end

    ~Impl() { ZSTD_freeDCtx(zstd); }

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
            gz = std::make_unique<inflate_state>();
            obuf.resize(kGzipOut);
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

    static const char* gzip_error(int rc) {
        switch (rc) {
            case ISAL_INVALID_BLOCK:
                return "invalid deflate block";
            case ISAL_INVALID_SYMBOL:
                return "invalid deflate symbol";
            case ISAL_INVALID_LOOKBACK:
                return "invalid distance too far back";
            case ISAL_INVALID_WRAPPER:
                return "incorrect gzip header";
            case ISAL_UNSUPPORTED_METHOD:
                return "unknown compression method";
            case ISAL_INCORRECT_CHECKSUM:
                return "incorrect data check";
            default:
                return "gzip data error";
        }
    }

    void gunzip(const char* data, std::size_t n) {
        auto* p = reinterpret_cast<const std::uint8_t*>(data);
        while (n > 0) {
            if (!header.done()) {
                std::size_t used = 0;
                try {
                    used = header.feed(p, n);
                } catch (const Error& e) {
                    damaged(e.what());
                }
                p += used;
                n -= used;
                if (!header.done())
                    return;
                isal_inflate_init(gz.get());
                gz->crc_flag = ISAL_GZIP_NO_HDR_VER;  // deflate, then CRC-32 and size
            }
            std::size_t left = inflate_some(p, n);
            p += n - left;
            n = left;
        }
    }

    // Inflates from p[0, n) until the input runs out or the member ends;
    // returns how much input is left (the next member's, if any).
    std::size_t inflate_some(const std::uint8_t* p, std::size_t n) {
        inflate_state& s = *gz;
        s.next_in = const_cast<std::uint8_t*>(p);
        s.avail_in = static_cast<std::uint32_t>(n);
        for (;;) {
            s.next_out = reinterpret_cast<std::uint8_t*>(obuf.data());
            s.avail_out = static_cast<std::uint32_t>(obuf.size());
            const std::uint32_t in_before = s.avail_in;
            int rc = isal_inflate(&s);
            if (rc < 0)
                damaged(gzip_error(rc));
            const std::size_t made = obuf.size() - s.avail_out;
            emit(obuf.data(), made);
            if (s.block_state == ISAL_BLOCK_FINISH) {
                header.reset();
                members = true;
                return s.avail_in;
            }
            if (s.avail_in == 0 && s.avail_out != 0)
                return 0;  // everything given is decoded: wait for more
            if (made == 0 && s.avail_in == in_before)
                damaged("gzip data error (no progress)");
            // else the output filled up: there may be more of it
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
        // ISA-L counts input in 32 bits: feed no more than a chunk at a time.
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
    if (d.format == Format::gzip && (!d.members || d.header.started()))
        d.damaged("gzip stream ends early");
    if (d.format == Format::zstd && d.zstd_last != 0)
        d.damaged("zstd stream ends early");
}

}  // namespace kiln::registry
