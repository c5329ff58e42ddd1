// StreamUpload: a blob sent in PATCH chunks while it is being made.

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "registry/client.h"
#include "registry/client_impl.h"
#include "registry/url.h"

namespace kiln::registry {

struct StreamUpload::State {
    Client::Impl& impl;
    const std::string repo;
    const Op op;
    const std::size_t chunk;

    std::mutex mu;
    std::condition_variable ready, room;
    std::deque<std::string> queue;  // whole chunks, oldest first
    std::string current;            // the chunk being filled
    bool closed = false;            // no more chunks will come
    bool busy = false;              // the worker is sending a chunk
    bool failed = false;
    std::string loc;  // the session, once opened (worker-owned until joined)
    std::thread worker;

    State(Client::Impl& i, std::string r, std::size_t c)
        : impl(i),
          repo(r),
          op{r, "blob upload", {push_scope(r)}},
          chunk(std::max<std::size_t>(c, 1)) {}

    void patch(std::int64_t offset, const std::string& bytes) {
        Request r;
        r.method = "PATCH";
        r.url = loc;
        r.headers.emplace_back("Content-Type", "application/octet-stream");
        r.headers.emplace_back("Content-Range", std::to_string(offset) + "-" +
                                                    std::to_string(offset + bytes.size() - 1));
        r.body_size = static_cast<std::int64_t>(bytes.size());
        auto pos = std::make_shared<std::size_t>(0);
        r.rewind = [pos] { *pos = 0; };
        r.body_reader = [pos, &bytes](void* buf, std::size_t n) {
            std::size_t k = std::min(n, bytes.size() - *pos);
            std::memcpy(buf, bytes.data() + *pos, k);
            *pos += k;
            return k;
        };
        // Sent once: a chunk that half arrived would leave the session at an
        // offset this stream cannot go back to; the caller's fallback can.
        Response resp = impl.execute(op, std::move(r), {}, 1);
        if (!is_2xx(resp.status))
            throw Error(impl.prefix(op) + ": " + status_detail(resp));
        if (std::string next = impl.location(resp); !next.empty())
            loc = next;
    }

    void run() {
        try {
            // One try: a registry that does not answer at once gets the
            // usual upload, with its retries, rather than a delay here first.
            loc = impl.start_upload(op, repo, 1);
            std::int64_t offset = 0;
            for (;;) {
                std::string bytes;
                {
                    std::unique_lock lock(mu);
                    busy = false;
                    room.notify_all();
                    ready.wait(lock, [&] { return !queue.empty() || closed || failed; });
                    if (failed || queue.empty())
                        return;
                    bytes = std::move(queue.front());
                    queue.pop_front();
                    busy = true;
                }
                patch(offset, bytes);
                offset += static_cast<std::int64_t>(bytes.size());
            }
        } catch (...) {
            std::lock_guard lock(mu);
            failed = true;
            queue.clear();
            room.notify_all();
        }
    }

    // Hands `bytes` to the worker once it is idle: the chunk being sent and
    // the one filling are all there is in memory.
    void enqueue(std::string bytes) {
        std::unique_lock lock(mu);
        room.wait(lock, [&] { return (queue.empty() && !busy) || failed; });
        if (failed)
            return;
        queue.push_back(std::move(bytes));
        ready.notify_one();
    }

    // Ends the worker; true when every chunk went out.
    bool close(bool abandon) {
        {
            std::lock_guard lock(mu);
            closed = true;
            failed = failed || abandon;
            ready.notify_all();
        }
        if (worker.joinable())
            worker.join();
        return !failed;
    }
};

StreamUpload::StreamUpload(std::unique_ptr<State> state) : s_(std::move(state)) {
    s_->worker = std::thread([s = s_.get()] { s->run(); });
}

StreamUpload::~StreamUpload() {
    if (s_->worker.joinable()) {
        s_->close(true);
        if (!s_->loc.empty())
            s_->impl.cancel_upload(s_->op, s_->loc);
    }
}

void StreamUpload::write(const void* data, std::size_t size) {
    State& s = *s_;
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        {
            std::lock_guard lock(s.mu);
            if (s.failed)
                return;
        }
        if (s.current.capacity() < s.chunk)
            s.current.reserve(s.chunk);  // filled without reallocating
        std::size_t k = std::min(size, s.chunk - s.current.size());
        s.current.append(p, k);
        p += k;
        size -= k;
        if (s.current.size() == s.chunk) {
            s.enqueue(std::move(s.current));
            s.current = std::string();
        }
    }
}

bool StreamUpload::finish(const content::Digest& digest) {
    State& s = *s_;
    if (!s.current.empty())
        s.enqueue(std::move(s.current));
    if (!s.close(false)) {
        if (!s.loc.empty())
            s.impl.cancel_upload(s.op, s.loc);
        return false;
    }
    Request put;
    put.method = "PUT";
    put.url = append_query(s.loc, "digest=" + percent_encode(digest.str()));
    put.headers.emplace_back("Content-Type", "application/octet-stream");
    put.body_size = 0;
    try {
        s.impl.finish_upload(s.op, s.repo, digest, std::move(put));
        return true;
    } catch (const Error&) {
        s.impl.cancel_upload(s.op, s.loc);
        return false;
    }
}

std::unique_ptr<StreamUpload> Client::stream_upload(const std::string& repository) {
    return std::make_unique<StreamUpload>(std::make_unique<StreamUpload::State>(
        *impl_, repository, static_cast<std::size_t>(impl_->opt.chunk_size)));
}

}  // namespace kiln::registry
