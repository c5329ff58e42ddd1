// Uploading a blob: an upload session opened with POST, filled with one PUT
// or with PATCH chunks (resumed where the registry says it stands), and
// closed with a PUT naming the digest.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "registry/client_impl.h"
#include "registry/response_text.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

using content::Digest;

bool falls_back(long status) {
    return status >= 400 && status < 500 && status != 401 && status != 403 && status != 429;
}

}  // namespace

std::string Client::Impl::start_upload(const Op& op, const std::string& repo, int attempts) {
    Request r;
    r.method = "POST";
    r.url = "/v2/" + repo + "/blobs/uploads/";
    Response resp = execute(op, r, {}, attempts);
    if (resp.status != 202 && !is_2xx(resp.status)) {
        fail(op, resp);
    }
    std::string loc = location(resp);
    if (loc.empty()) {
        throw Error(prefix(op) + ": registry opened an upload without a Location");
    }
    return loc;
}

void Client::Impl::cancel_upload(const Op& op, const std::string& loc) {
    try {
        Request r;
        r.method = "DELETE";
        r.url = loc;
        execute(op, r, {}, 1);
    } catch (const Error&) {
        // Best effort: the registry expires abandoned uploads anyway.
    }
}

bool Client::Impl::blob_exists(const Op& op, const std::string& repo, const Digest& d) {
    Request r;
    r.method = "HEAD";
    r.url = "/v2/" + repo + "/blobs/" + d.str();
    Response resp = execute(op, r);
    if (resp.status == 404) {
        return false;
    }
    if (!is_2xx(resp.status)) {
        fail(op, resp);
    }
    return true;
}

void Client::Impl::finish_upload(const Op& op, const std::string& repo, const Digest& d,
                                 Request put, int attempts) {
    Response resp = execute(op, std::move(put), {}, attempts);
    if (is_2xx(resp.status)) {
        return;
    }
    // A PUT whose response was lost and was sent again finds its session gone.
    if (resp.status == 404 && blob_exists(op, repo, d)) {
        return;
    }
    if (falls_back(resp.status)) {
        throw UploadRejected(prefix(op) + ": " + status_detail(resp));
    }
    if (retryable_status(resp.status)) {
        throw TransportError(prefix(op) + ": " + status_detail(resp), true);
    }
    fail(op, resp);
}

void Client::Impl::push_monolithic(const Op& op, const std::string& repo, const Digest& d,
                                   std::int64_t size, const content::BlobStore& store) {
    // A PUT that failed midway may have left part of the body in its
    // session, so each retry opens a new session rather than re-sending.
    const int tries = std::max(1, opt.retry.attempts);
    for (int i = 1;; ++i) {
        std::string loc = start_upload(op, repo);
        Request put;
        put.method = "PUT";
        put.url = append_query(loc, "digest=" + percent_encode(d.str()));
        put.headers.emplace_back("Content-Type", "application/octet-stream");
        put.body_size = size;
        // Streamed from the store (verified as read), reopened for a resend.
        auto reader = std::make_shared<std::optional<content::BlobStore::Reader>>();
        reader->emplace(store.reader(d));
        put.rewind = [reader, &store, d] {
            reader->reset();
            reader->emplace(store.reader(d));
        };
        put.body_reader = [reader](void* buf, std::size_t n) { return (*reader)->read(buf, n); };
        try {
            finish_upload(op, repo, d, std::move(put), 1);
            return;
        } catch (const UploadRejected&) {
            cancel_upload(op, loc);
            throw;
        } catch (const TransportError& e) {
            if (!e.retryable || i >= tries) {
                throw;
            }
        }
        cancel_upload(op, loc);
        sleep_unless_cancelled(backoff(opt.retry, i, std::nullopt));
    }
}

std::optional<std::int64_t> Client::Impl::upload_offset(const Op& op, const std::string& loc) {
    Request r;
    r.url = loc;
    Response resp = execute(op, r);
    if (!is_2xx(resp.status)) {
        return std::nullopt;
    }
    return upload_range_next(resp.header("range")).value_or(0);
}

void Client::Impl::push_chunked(const Op& op, const std::string& repo, const Digest& d,
                                std::int64_t size, const content::BlobStore& store) {
    // Chunks are read with pread so a failed one can be sent again from its
    // start; the registry verifies the whole blob against the digest at the end.
    UniqueFd fd(::open(store.path(d).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw errno_error("cannot open " + store.path(d).string());
    }
    std::string loc = start_upload(op, repo);
    std::int64_t offset = 0;
    int failures = 0;
    const std::int64_t chunk = std::max<std::int64_t>(opt.chunk_size, 1);
    while (offset < size) {
        std::int64_t n = std::min(chunk, size - offset);
        Request patch;
        patch.method = "PATCH";
        patch.url = loc;
        patch.headers.emplace_back("Content-Type", "application/octet-stream");
        patch.headers.emplace_back("Content-Range",
                                   std::to_string(offset) + "-" + std::to_string(offset + n - 1));
        patch.body_size = n;
        auto pos = std::make_shared<std::int64_t>(0);
        int raw_fd = fd.get();
        std::int64_t start = offset;
        std::string path = store.path(d).string();
        patch.rewind = [pos] { *pos = 0; };
        patch.body_reader = [pos, raw_fd, start, n, path](void* buf, std::size_t len) {
            std::size_t want = static_cast<std::size_t>(
                std::min<std::int64_t>(static_cast<std::int64_t>(len), n - *pos));
            if (want == 0) {
                return std::size_t{0};
            }
            ssize_t got = ::pread(raw_fd, buf, want, start + *pos);
            if (got < 0) {
                throw errno_error("cannot read " + path);
            }
            if (got == 0) {
                throw Error("cannot read " + path + ": file is shorter than expected");
            }
            *pos += got;
            return static_cast<std::size_t>(got);
        };

        std::optional<Response> resp;
        std::string cause;
        try {
            resp = execute(op, patch, {}, 1);
        } catch (const TransportError& e) {
            if (!e.retryable) {
                throw;
            }
            cause = e.what();
        }
        if (resp && is_2xx(resp->status)) {
            std::string next_loc = location(*resp);
            if (!next_loc.empty()) {
                loc = next_loc;
            }
            auto next = upload_range_next(resp->header("range"));
            offset = next && *next > offset && *next <= offset + n ? *next : offset + n;
            failures = 0;
            continue;
        }
        if (resp) {
            if (resp->status != 416 && falls_back(resp->status)) {
                cancel_upload(op, loc);
                throw UploadRejected(prefix(op) + ": " + status_detail(*resp));
            }
            if (resp->status != 416 && !retryable_status(resp->status)) {
                fail(op, *resp);
            }
            cause = prefix(op) + ": " + status_detail(*resp);
        }
        // The chunk may have arrived in part: ask the session where it
        // stands and go on from there, or start a new session.
        if (++failures >= std::max(1, opt.retry.attempts)) {
            throw Error(cause);
        }
        sleep_unless_cancelled(
            backoff(opt.retry, failures, resp ? retry_after(*resp) : std::nullopt));
        if (auto at = upload_offset(op, loc)) {
            offset = std::min(*at, size);
        } else {
            loc = start_upload(op, repo);
            offset = 0;
        }
    }
    Request put;
    put.method = "PUT";
    put.url = append_query(loc, "digest=" + percent_encode(d.str()));
    put.headers.emplace_back("Content-Type", "application/octet-stream");
    put.body_size = 0;
    try {
        finish_upload(op, repo, d, std::move(put));
    } catch (const UploadRejected&) {
        cancel_upload(op, loc);
        throw;
    }
}

}  // namespace kiln::registry
