#include "registry/layer_unpack.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <vector>

#include "base/error.h"
#include "base/limits.h"

namespace kiln::registry {

namespace {

constexpr std::size_t kChunk = 1 << 16;

// The blob's bytes in chunks, starting with the magic bytes already read.
class Source {
  public:
    Source(content::BlobStore::Reader& in, std::string head, const std::atomic<bool>* cancel)
        : in_(in), head_(std::move(head)), cancel_(cancel) {}
    std::size_t next(std::vector<char>& buf) {
        throw_if_cancelled(cancel_);
        if (head_.empty())
            return in_.read(buf.data(), buf.size());
        std::size_t n = head_.size();
        std::copy(head_.begin(), head_.end(), buf.begin());
        head_.clear();
        return n;
    }

  private:
    content::BlobStore::Reader& in_;
    std::string head_;
    const std::atomic<bool>* cancel_;
};

[[noreturn]] void damaged(const content::Digest& blob, const std::string& why) {
    throw Error("layer " + blob.str() + ": cannot decompress: " + why);
}

// The store's writer, stopping at --max-layer-size (base/limits.h): a layer that
// decompresses to more than that fills no disk.
class LimitedWriter {
  public:
    LimitedWriter(content::BlobStore::Writer& out, const content::Digest& blob)
        : out_(out), blob_(blob) {}
    void write(const char* p, std::size_t n) {
        total_ += n;
        if (total_ > max_layer_size())
            throw_layer_too_large("layer " + blob_.str());
        out_.write(p, n);
    }

  private:
    content::BlobStore::Writer& out_;
    const content::Digest& blob_;
    std::uint64_t total_ = 0;
};

void gunzip(content::BlobStore::Reader& in, LimitedWriter& out, const content::Digest& blob,
            std::string first, const std::atomic<bool>* cancel) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        damaged(blob, "zlib init failed");
    std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&z, inflateEnd);
    std::vector<char> ibuf(kChunk), obuf(kChunk);
    Source src(in, std::move(first), cancel);
    bool ended = false;  // at the end of a gzip member
    for (;;) {
        std::size_t n = src.next(ibuf);
        if (n == 0)
            break;
        z.next_in = reinterpret_cast<Bytef*>(ibuf.data());
        z.avail_in = static_cast<uInt>(n);
        while (z.avail_in > 0) {
            if (ended) {
                // Concatenated members are one stream (RFC 1952, as gzip -d).
                inflateReset(&z);
                ended = false;
            }
            z.next_out = reinterpret_cast<Bytef*>(obuf.data());
            z.avail_out = static_cast<uInt>(obuf.size());
            int rc = inflate(&z, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                damaged(blob, z.msg ? z.msg : "gzip data error");
            out.write(obuf.data(), obuf.size() - z.avail_out);
            if (rc == Z_STREAM_END)
                ended = true;
            else if (rc == Z_BUF_ERROR && z.avail_out != 0)
                break;
        }
    }
    if (!ended)
        damaged(blob, "gzip stream ends early");
}

void unzstd(content::BlobStore::Reader& in, LimitedWriter& out, const content::Digest& blob,
            std::string first, const std::atomic<bool>* cancel) {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!ctx)
        damaged(blob, "zstd init failed");
    std::vector<char> ibuf(kChunk), obuf(ZSTD_DStreamOutSize());
    Source src(in, std::move(first), cancel);
    std::size_t last = 1;
    for (;;) {
        std::size_t n = src.next(ibuf);
        if (n == 0)
            break;
        ZSTD_inBuffer input{ibuf.data(), n, 0};
        while (input.pos < input.size) {
            ZSTD_outBuffer output{obuf.data(), obuf.size(), 0};
            last = ZSTD_decompressStream(ctx.get(), &output, &input);
            if (ZSTD_isError(last))
                damaged(blob, ZSTD_getErrorName(last));
            out.write(obuf.data(), output.pos);
        }
    }
    if (last != 0)
        damaged(blob, "zstd stream ends early");
}

}  // namespace

content::BlobInfo store_uncompressed(const content::BlobStore& store,
                                     const content::Digest& compressed,
                                     const content::Digest& diff_id,
                                     const std::atomic<bool>* cancel) {
    if (store.has(diff_id))
        return {diff_id,
                static_cast<std::int64_t>(std::filesystem::file_size(store.path(diff_id)))};
    auto in = store.reader(compressed);
    auto writer = store.writer();
    LimitedWriter out(writer, compressed);
    // The magic bytes decide: a registry's media type is only a claim.
    std::string head(4, '\0');
    std::size_t got = 0;
    while (got < head.size()) {
        std::size_t n = in.read(head.data() + got, head.size() - got);
        if (n == 0)
            break;
        got += n;
    }
    head.resize(got);
    auto magic = [&](std::string_view m) { return head.compare(0, m.size(), m) == 0; };
    if (head.size() >= 2 && magic("\x1f\x8b")) {
        gunzip(in, out, compressed, head, cancel);
    } else if (head.size() >= 4 && magic("\x28\xb5\x2f\xfd")) {
        unzstd(in, out, compressed, head, cancel);
    } else {
        Source src(in, std::move(head), cancel);
        std::vector<char> buf(kChunk);
        while (std::size_t n = src.next(buf))
            out.write(buf.data(), n);
    }
    try {
        return writer.commit(diff_id);
    } catch (const Error&) {
        throw Error("layer " + compressed.str() + ": its content is not the diffID " +
                    diff_id.str() + " the image config names");
    }
}

}  // namespace kiln::registry
