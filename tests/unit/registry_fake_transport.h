// Fakes of the registry client's Transport seam for unit tests:
//  - FakeTransport: a script of exchanges, answered in order, each request kept
//    for the test to check.
//  - MemoryRegistry: a tiny in-memory distribution registry (manifests, blobs,
//    monolithic uploads, cross-repository mounts) that answers by URL, for
//    pull and push, whose requests may come in any order from several threads.
#pragma once

#include <strings.h>
#include <zlib.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "content/digest.h"
#include "registry/transport.h"

namespace kiln::registry::fake {

struct Sent {
    std::string method;
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::int64_t body_size = -1;
    bool tls_verify = true;

    std::string header(const std::string& name) const {
        for (const auto& [k, v] : headers) {
            if (strcasecmp(k.c_str(), name.c_str()) == 0) {
                return v;
            }
        }
        return "";
    }
};

using Handler = std::function<Response(const Request&, const BodySink&)>;

// Delivers a response the way CurlTransport does: on_head first, then a 2xx
// body to the sink, any other body kept.
inline Response deliver(const Request& r, const BodySink& sink, long status, std::string body,
                        std::multimap<std::string, std::string> headers = {}) {
    Response head;
    head.status = status;
    head.headers = headers;
    if (r.on_head) {
        r.on_head(head);
    }
    if (status >= 200 && status < 300 && sink) {
        if (!body.empty()) {
            sink(body.data(), body.size());
        }
        body.clear();
    }
    head.body = std::move(body);
    head.url = r.url;
    return head;
}

inline Handler reply(long status, std::string body = "",
                     std::multimap<std::string, std::string> h = {}) {
    return
        [=](const Request& r, const BodySink& sink) { return deliver(r, sink, status, body, h); };
}

inline Handler broken(bool retryable = true) {
    return [=](const Request&, const BodySink&) -> Response {
        throw TransportError("connection reset by peer", retryable);
    };
}

// A 2xx whose body breaks off after `partial`.
inline Handler cut_off(long status, std::string partial,
                       std::multimap<std::string, std::string> h = {}) {
    return [=](const Request& r, const BodySink& sink) -> Response {
        Response head;
        head.status = status;
        head.headers = h;
        if (r.on_head) {
            r.on_head(head);
        }
        sink(partial.data(), partial.size());
        throw TransportError("transfer closed with outstanding read data remaining", true);
    };
}

// The request as the fake saw it, with a streamed body read out in small pieces.
inline Sent record(const Request& r) {
    Sent s{r.method, r.url, r.headers, r.body, r.body_size, r.tls_verify};
    if (r.body_reader) {
        char buf[7];  // small, so readers are called many times
        while (std::size_t n = r.body_reader(buf, sizeof buf)) {
            s.body.append(buf, n);
        }
    }
    return s;
}

class FakeTransport : public Transport {
  public:
    std::deque<Handler> script;
    std::vector<Sent> sent;

    Response send(const Request& r, const BodySink& sink) override {
        sent.push_back(record(r));
        if (script.empty()) {
            throw std::logic_error("unexpected request " + r.method + " " + r.url);
        }
        Handler h = std::move(script.front());
        script.pop_front();
        return h(r, sink);
    }
};

inline std::string percent_decode(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The value of `key` in a URL's query, decoded; "" when absent.
inline std::string query_param(const std::string& url, const std::string& key) {
    auto q = url.find('?');
    if (q == std::string::npos) {
        return "";
    }
    std::string rest = url.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= rest.size()) {
        auto amp = rest.find('&', pos);
        std::string kv = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        auto eq = kv.find('=');
        if (eq != std::string::npos && kv.substr(0, eq) == key) {
            return percent_decode(kv.substr(eq + 1));
        }
        if (amp == std::string::npos) {
            break;
        }
        pos = amp + 1;
    }
    return "";
}

class MemoryRegistry : public Transport {
  public:
    struct StoredManifest {
        std::string media_type;
        std::string bytes;
    };
    // repository → digest → bytes
    std::map<std::string, std::map<std::string, std::string>> blobs;
    // repository → tag or digest → manifest
    std::map<std::string, std::map<std::string, StoredManifest>> manifests;
    // false: every mount is declined (202), as a registry without mount support.
    bool allow_mounts = true;
    // true: a blob GET with "Range: bytes=N-" is answered 206 from byte N;
    // false: with the whole blob again (200), as a registry that ignores Range.
    bool honour_range = true;

    // The next GET of blob `digest` breaks off after `bytes` of its body.
    void cut_first_blob_get_after(const std::string& digest, std::size_t bytes) {
        std::lock_guard lock(mu_);
        cut_once_[digest] = bytes;
    }

    content::Digest add_blob(const std::string& repo, const std::string& bytes) {
        std::lock_guard lock(mu_);
        auto d = content::Digest::of(bytes);
        blobs[repo][d.str()] = bytes;
        return d;
    }
    content::Digest add_manifest(const std::string& repo, const std::string& tag,
                                 const std::string& media_type, const std::string& bytes) {
        std::lock_guard lock(mu_);
        auto d = content::Digest::of(bytes);
        manifests[repo][d.str()] = {media_type, bytes};
        if (!tag.empty()) {
            manifests[repo][tag] = {media_type, bytes};
        }
        return d;
    }

    std::vector<Sent> sent() {
        std::lock_guard lock(mu_);
        return sent_;
    }
    void clear_sent() {
        std::lock_guard lock(mu_);
        sent_.clear();
    }
    // Requests with this method whose URL contains `part`.
    int count(const std::string& method, const std::string& part = "") {
        int n = 0;
        for (const auto& s : sent()) {
            n += s.method == method && s.url.find(part) != std::string::npos;
        }
        return n;
    }

    Response send(const Request& r, const BodySink& sink) override {
        std::lock_guard lock(mu_);
        Sent s = record(r);
        sent_.push_back(s);
        auto v2 = r.url.find("/v2/");
        if (v2 == std::string::npos) {
            return deliver(r, sink, 404, "");
        }
        std::string path = r.url.substr(v2 + 4);
        path = path.substr(0, path.find('?'));
        const std::string base = r.url.substr(0, v2);

        if (auto at = path.find("/blobs/uploads/"); at != std::string::npos) {
            const std::string repo = path.substr(0, at);
            const std::string id = path.substr(at + 15);
            if (r.method == "POST") {
                const std::string mount = query_param(r.url, "mount");
                const std::string from = query_param(r.url, "from");
                if (!mount.empty() && allow_mounts && blobs[from].count(mount)) {
                    blobs[repo][mount] = blobs[from][mount];
                    return deliver(r, sink, 201, "", {{"docker-content-digest", mount}});
                }
                const std::string loc =
                    "/v2/" + repo + "/blobs/uploads/u" + std::to_string(++uploads_) + "?_state=x";
                return deliver(r, sink, 202, "", {{"location", loc}});
            }
            if (r.method == "PUT") {
                const std::string want = query_param(r.url, "digest");
                if (content::Digest::of(s.body).str() != want) {
                    return deliver(r, sink, 400, R"({"errors":[{"code":"DIGEST_INVALID"}]})");
                }
                blobs[repo][want] = s.body;
                return deliver(r, sink, 201, "",
                               {{"location", base + "/v2/" + repo + "/blobs/" + want}});
            }
            if (r.method == "DELETE") {
                return deliver(r, sink, 204, "");
            }
            return deliver(r, sink, 405, "");  // no chunked uploads here
        }
        if (auto at = path.find("/manifests/"); at != std::string::npos) {
            const std::string repo = path.substr(0, at);
            const std::string ref = path.substr(at + 11);
            if (r.method == "PUT") {
                const std::string d = content::Digest::of(s.body).str();
                StoredManifest m{s.header("Content-Type"), s.body};
                manifests[repo][d] = m;
                manifests[repo][ref] = m;
                return deliver(r, sink, 201, "", {{"docker-content-digest", d}});
            }
            auto it = manifests[repo].find(ref);
            if (it == manifests[repo].end()) {
                return deliver(
                    r, sink, 404,
                    R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
            }
            const auto& m = it->second;
            std::multimap<std::string, std::string> h = {
                {"content-type", m.media_type},
                {"docker-content-digest", content::Digest::of(m.bytes).str()}};
            return deliver(r, sink, 200, r.method == "HEAD" ? "" : m.bytes, h);
        }
        if (auto at = path.find("/blobs/"); at != std::string::npos) {
            const std::string repo = path.substr(0, at);
            const std::string digest = path.substr(at + 7);
            auto it = blobs[repo].find(digest);
            if (it == blobs[repo].end()) {
                return deliver(r, sink, 404,
                               R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]})");
            }
            std::string body = r.method == "HEAD" ? "" : it->second;
            long status = 200;
            std::multimap<std::string, std::string> h = {
                {"content-length", std::to_string(it->second.size())}};
            const std::string range = s.header("Range");
            if (honour_range && range.starts_with("bytes=") && !body.empty()) {
                const std::size_t start = std::stoul(range.substr(6));
                status = 206;
                h = {{"content-range", "bytes " + std::to_string(start) + "-" +
                                           std::to_string(body.size() - 1) + "/" +
                                           std::to_string(body.size())}};
                body = body.substr(start);
            }
            if (auto cut = cut_once_.find(digest); cut != cut_once_.end() && !body.empty()) {
                const std::size_t keep = cut->second;
                cut_once_.erase(cut);
                Response head;
                head.status = status;
                head.headers = h;
                if (r.on_head) {
                    r.on_head(head);
                }
                sink(body.data(), std::min(keep, body.size()));
                throw TransportError("transfer closed with outstanding read data remaining", true);
            }
            return deliver(r, sink, status, body, h);
        }
        return deliver(r, sink, 404, "");
    }

  private:
    std::mutex mu_;
    std::vector<Sent> sent_;
    int uploads_ = 0;
    std::map<std::string, std::size_t> cut_once_;
};

// gzip of `data` (one member, as `gzip -c` makes it).
inline std::string gzip(const std::string& data) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("deflateInit2");
    }
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("deflate");
    }
    return out;
}

}  // namespace kiln::registry::fake
