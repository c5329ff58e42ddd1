#include "registry/layer_stream.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/error.h"
#include "registry/layer_decoder.h"
#include "registry/layer_unpack.h"

namespace kiln::registry {

namespace {

// Bytes from the download thread to the unpacker's, bounded.
class Pipe {
  public:
    enum class End { open, verified, failed };

    explicit Pipe(content::Digest blob) : blob_(std::move(blob)) {}

    // Waits for room; drops the bytes when the reader has gone.
    void push(const char* p, std::size_t n) {
        std::unique_lock lock(mu_);
        room_.wait(lock, [&] { return reader_gone_ || queued_ < LayerStream::kInFlight; });
        if (reader_gone_ || end_ != End::open)
            return;
        chunks_.emplace_back(p, n);
        queued_ += n;
        ready_.notify_one();
    }

    void close(End end) {
        std::lock_guard lock(mu_);
        if (end_ == End::open)
            end_ = end;
        ready_.notify_all();
    }

    void reader_gone() {
        std::lock_guard lock(mu_);
        reader_gone_ = true;
        chunks_.clear();
        queued_ = 0;
        room_.notify_all();
    }

    std::size_t read(void* buf, std::size_t size) {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !chunks_.empty() || end_ != End::open; });
        if (chunks_.empty()) {
            if (end_ == End::verified)
                return 0;
            throw Error("layer " + blob_.str() + ": the download did not complete");
        }
        if (end_ == End::failed)
            throw Error("layer " + blob_.str() + ": the download did not complete");
        std::string& front = chunks_.front();
        std::size_t n = std::min(size, front.size() - offset_);
        std::memcpy(buf, front.data() + offset_, n);
        offset_ += n;
        if (offset_ == front.size()) {
            queued_ -= front.size();
            chunks_.pop_front();
            offset_ = 0;
            room_.notify_one();
        }
        return n;
    }

  private:
    const content::Digest blob_;
    std::mutex mu_;
    std::condition_variable ready_, room_;
    std::deque<std::string> chunks_;
    std::size_t offset_ = 0;  // into chunks_.front()
    std::size_t queued_ = 0;
    End end_ = End::open;
    bool reader_gone_ = false;
};

}  // namespace

struct LayerStream::Impl {
    content::Digest compressed, diff_id;
    Pipe pipe;
    content::BlobStore::Writer twin;
    LayerDecoder decoder;
    bool broken = false;
    std::thread unpacker;  // last: started once everything it uses exists

    Impl(const content::BlobStore& store, content::Digest c, content::Digest d,
         std::function<void(const LayerReader&)> unpack)
        : compressed(std::move(c)),
          diff_id(std::move(d)),
          pipe(compressed),
          twin(store.writer()),
          decoder(compressed, [this](const char* p, std::size_t n) {
              twin.write(p, n);
              pipe.push(p, n);
          }) {
        unpacker = std::thread([this, unpack = std::move(unpack)] {
            try {
                unpack([this](void* buf, std::size_t n) { return pipe.read(buf, n); });
            } catch (...) {
                // Not the pull's error: see the header.
            }
            pipe.reader_gone();
        });
    }

    ~Impl() {
        pipe.close(Pipe::End::failed);
        if (unpacker.joinable())
            unpacker.join();
    }

    void stop() {
        broken = true;
        pipe.close(Pipe::End::failed);
    }
};

LayerStream::LayerStream(const content::BlobStore& store, content::Digest compressed,
                         content::Digest diff_id, std::function<void(const LayerReader&)> unpack)
    : impl_(std::make_unique<Impl>(store, std::move(compressed), std::move(diff_id),
                                   std::move(unpack))) {}

LayerStream::~LayerStream() = default;

void LayerStream::write(const char* data, std::size_t size) {
    if (impl_->broken)
        return;
    try {
        impl_->decoder.write(data, size);
    } catch (...) {
        impl_->stop();
    }
}

void LayerStream::restart() {
    impl_->stop();
}

bool LayerStream::finish() {
    Impl& s = *impl_;
    if (!s.broken) {
        try {
            s.decoder.finish();
            commit_twin(s.twin, s.compressed, s.diff_id);
        } catch (...) {
            s.stop();
        }
    }
    s.pipe.close(s.broken ? Pipe::End::failed : Pipe::End::verified);
    s.unpacker.join();
    return !s.broken;
}

}  // namespace kiln::registry
