#include "exporter/gzip_blocks.h"

#include <libdeflate.h>

#include <algorithm>
#include <deque>
#include <future>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/thread_pool.h"

namespace kiln::exporter {

namespace {

constexpr std::size_t kOutChunk = 128 * 1024;  // the most handed to the sink at once

using Bytes = std::vector<unsigned char>;

// One block's work: its input and the gzip member it became.
struct Block {
    Bytes in;
    Bytes out;
};

struct CompressorFree {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

void compress_block(Block& b, int level) {
    std::unique_ptr<libdeflate_compressor, CompressorFree> c(libdeflate_alloc_compressor(level));
    if (!c)
        throw Error("cannot initialise gzip compression: out of memory");
    b.out.resize(libdeflate_gzip_compress_bound(c.get(), b.in.size()));
    std::size_t n =
        libdeflate_gzip_compress(c.get(), b.in.data(), b.in.size(), b.out.data(), b.out.size());
    if (n == 0)  // the bound is an upper bound: this is not expected
        throw Error("gzip compression failed");
    b.out.resize(n);
    Bytes().swap(b.in);  // only the output is waited for now
}

class BlockGzip final : public Compressor {
  public:
    BlockGzip(int level, Sink sink, unsigned threads)
        : level_(level < 0 ? 6 : level),
          sink_(std::move(sink)),
          pool_(threads ? threads : std::max(1u, std::thread::hardware_concurrency())),
          max_in_flight_(2 * pool_.size()) {
        if (level_ > 9)
            throw Error("gzip compression level must be 0..9, got " + std::to_string(level));
        start_block();
    }

    ~BlockGzip() override {
        // Blocks still compressing write into their own Block: wait for them
        // before the blocks and the pool go.
        for (auto& p : pending_)
            if (p.done.valid())
                p.done.wait();
    }

    void write(const void* data, std::size_t size) override {
        const auto* p = static_cast<const unsigned char*>(data);
        while (size > 0) {
            std::size_t n = std::min(size, kGzipBlockSize - cur_->in.size());
            cur_->in.insert(cur_->in.end(), p, p + n);
            p += n;
            size -= n;
            if (cur_->in.size() == kGzipBlockSize)
                submit();
        }
    }

    void finish() override {
        if (finished_)
            return;
        // A last partial block, or the one empty member of an empty stream.
        if (!cur_->in.empty() || !any_block_)
            submit();
        while (!pending_.empty())
            emit_oldest();
        finished_ = true;
    }

  private:
    struct Pending {
        std::unique_ptr<Block> block;
        std::future<void> done;
    };

    void start_block() {
        cur_ = std::make_unique<Block>();
        cur_->in.reserve(kGzipBlockSize);
    }

    void submit() {
        while (pending_.size() >= max_in_flight_)
            emit_oldest();
        Block* b = cur_.get();
        const int level = level_;
        auto done = pool_.submit([b, level] { compress_block(*b, level); });
        pending_.push_back({std::move(cur_), std::move(done)});
        any_block_ = true;
        start_block();
    }

    void emit_oldest() {
        Pending p = std::move(pending_.front());
        pending_.pop_front();
        p.done.get();  // rethrows the block's error
        const Bytes& out = p.block->out;
        for (std::size_t at = 0; at < out.size(); at += kOutChunk)
            sink_(out.data() + at, std::min(kOutChunk, out.size() - at));
    }

    int level_;
    Sink sink_;
    ThreadPool pool_;
    std::size_t max_in_flight_;
    std::unique_ptr<Block> cur_;
    std::deque<Pending> pending_;
    bool any_block_ = false;
    bool finished_ = false;
};

}  // namespace

std::unique_ptr<Compressor> make_block_gzip(int level, Sink sink, unsigned threads) {
    return std::make_unique<BlockGzip>(level, std::move(sink), threads);
}

}  // namespace kiln::exporter
