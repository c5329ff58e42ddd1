// PRIVATE to the registry client — not part of kiln's API. The state and the
// steps behind registry::Client (registry/client.h), shared by the .cpp files
// that implement it; include it from nowhere else.
//
// Who does what:
//  - client_scheme.cpp   the constructor (API host, insecure and loopback
//                        hosts) and send_with_scheme: https, or http fallback;
//  - client_auth.cpp     credentials, the WWW-Authenticate answer, bearer
//                        tokens cached per scope set, send_authed;
//  - client_request.cpp  error messages, the request loop (execute),
//                        cancellation, Location headers;
//  - client_upload.cpp   upload sessions: monolithic PUT, chunked PATCH with
//                        resume, the final PUT;
//  - client.cpp          the public operations.
//
// Invariants:
//  - domain, host, opt, transport, http_fallback and tls_verify are set by
//    the constructor and never change, so they are read without the lock.
//  - `mu` guards the rest; it is held only to read or update that state,
//    never while a request is in flight.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "content/blob_store.h"
#include "content/digest.h"
#include "registry/auth_challenge.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/retry.h"
#include "registry/transport.h"

namespace kiln::registry {

inline bool is_2xx(long s) {
    return s >= 200 && s < 300;
}

// What one request is about, for scopes and for error messages.
struct Op {
    std::string repository;
    std::string object;                  // "blob sha256:...", "manifest latest", or ""
    std::vector<std::string> scopes;     // bearer token scopes this request needs
    const Credentials* login = nullptr;  // check_login: these credentials, not the store's
};

// Bearer token scopes.
inline std::string pull_scope(const std::string& repo) {
    return "repository:" + repo + ":pull";
}
inline std::string push_scope(const std::string& repo) {
    return "repository:" + repo + ":pull,push";
}

// A 4xx that says the registry does not take the blob this way: try the other.
class UploadRejected : public Error {
  public:
    using Error::Error;
};

// "404 blob unknown to registry": the status and the registry's own words when
// it sent a distribution-spec error body. Always one line.
std::string status_detail(const Response& r);

// Replaces every `name` header (case-insensitively); an empty value removes it.
void set_header(Request& r, const std::string& name, const std::string& value);

struct Client::Impl {
    using Clock = std::chrono::steady_clock;

    Impl(std::string d, ClientOptions o);

    std::string domain;
    std::string host;
    ClientOptions opt;
    std::shared_ptr<Transport> transport;
    bool http_fallback = false;
    bool tls_verify = true;

    enum class Scheme { unknown, https, http };
    struct Token {
        std::string value;
        Clock::time_point expires;
    };

    std::mutex mu;  // guards everything below
    Scheme scheme = Scheme::unknown;
    bool ping_http_first = false;  // a loopback host not asked yet (client_scheme.cpp)
    bool creds_loaded = false;
    std::optional<Credentials> creds;
    std::optional<AuthChallenge> bearer;  // the registry's bearer challenge, once seen
    bool basic = false;                   // the registry asked for Basic
    std::map<std::string, Token> tokens;  // by sorted scope set

    // ---- messages (client_request.cpp) ----

    std::string prefix(const Op& op) const;
    std::string repo_prefix(const Op& op) const;
    [[noreturn]] void fail(const Op& op, const Response& r);

    // ---- credentials and tokens (client_auth.cpp) ----

    std::optional<Credentials> credentials(const Op& op);
    std::optional<std::string> cached_token(const std::string& key);
    std::string fetch_token(const Op& op, const AuthChallenge& ch);
    // The Authorization header to send before knowing whether it is needed:
    // once the registry has said how it authenticates, ask that way upfront.
    std::string upfront_authorization(const Op& op);
    // One attempt, with authentication: a 401 is answered once with what
    // the challenge asks for.
    Response send_authed(const Op& op, const Request& base, const BodySink& sink);

    // ---- sending (client_scheme.cpp, client_request.cpp) ----

    // Sends once, choosing the scheme for a path-only URL ("/v2/...").
    Response send_with_scheme(Request r, const BodySink& sink);
    // Whether the host answers `GET /v2/` in plain http as a registry does.
    bool speaks_plain_http();

    // Runs `attempt` until it gives a response that is not worth retrying or
    // the policy's attempts are used up; the last response is returned.
    template <typename F>
    Response retrying(const Op& op, Request& r, F&& attempt, int attempts = 0,
                      const std::function<void(Request&)>& before = {});

    void check_cancel() const;
    // Backoff that a Ctrl-C cuts short.
    void sleep_unless_cancelled(std::chrono::milliseconds wait) const;

    Response execute(const Op& op, Request r, const BodySink& sink = {}, int attempts = 0,
                     const std::function<void(Request&)>& before = {});

    // The absolute URL a Location header names, relative to the response's URL.
    std::string location(const Response& r);

    // ---- uploads (client_upload.cpp) ----

    // POST: a new upload session's location. `attempts` as execute()'s.
    std::string start_upload(const Op& op, const std::string& repo, int attempts = 0);
    void cancel_upload(const Op& op, const std::string& loc);
    bool blob_exists(const Op& op, const std::string& repo, const content::Digest& d);
    // The final PUT closing an upload session with the blob's digest. A
    // retryable failure left after `attempts` throws a retryable TransportError.
    void finish_upload(const Op& op, const std::string& repo, const content::Digest& d, Request put,
                       int attempts = 0);
    void push_monolithic(const Op& op, const std::string& repo, const content::Digest& d,
                         std::int64_t size, const content::BlobStore& store);
    // Where an upload session stands: the next offset it expects, or nullopt
    // when the registry no longer knows it.
    std::optional<std::int64_t> upload_offset(const Op& op, const std::string& loc);
    void push_chunked(const Op& op, const std::string& repo, const content::Digest& d,
                      std::int64_t size, const content::BlobStore& store);
};

// A template, so here rather than in client_request.cpp: both the request
// loop and the token fetch instantiate it with their own attempt.
template <typename F>
Response Client::Impl::retrying(const Op& op, Request& r, F&& attempt, int attempts,
                                const std::function<void(Request&)>& before) {
    int n = attempts > 0 ? attempts : std::max(1, opt.retry.attempts);
    r.cancel = opt.cancel;
    for (int i = 1;; ++i) {
        check_cancel();
        if (i > 1 && r.rewind) {
            r.rewind();
        }
        if (before) {
            before(r);
        }
        std::chrono::milliseconds wait{};
        try {
            Response resp = attempt(r);
            if (!retryable_status(resp.status) || i >= n) {
                return resp;
            }
            wait = backoff(opt.retry, i, retry_after(resp));
        } catch (const Cancelled&) {
            throw Cancelled(prefix(op) + ": interrupted");
        } catch (const TransportError& e) {
            if (!e.retryable || i >= n) {
                throw TransportError(prefix(op) + ": " + e.what(), e.retryable);
            }
            wait = backoff(opt.retry, i, std::nullopt);
        }
        sleep_unless_cancelled(wait);
    }
}

}  // namespace kiln::registry
