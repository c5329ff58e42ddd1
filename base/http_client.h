// HTTP over libcurl: the one place kiln makes curl handles. The registry
// client reaches it through registry/transport.h; ADD <url> uses it directly.
//
// Contract of HttpClient::send():
//  - Sends `request` once (no retries, no auth: callers add those) and
//    returns the final response after redirects (at most 10, http and https
//    only). On a redirect to another host, the Authorization header is not
//    forwarded (blob storage redirects carry their own signature).
//  - A 2xx response body is passed to `sink` as it arrives, when a sink is
//    given; otherwise (and always for non-2xx) it is kept in Response::body,
//    up to 1 MiB (an error body is only read for its message).
//  - A sink may throw to abort the transfer; the exception propagates.
//  - Connection-level failures (refused, reset, timeout, TLS) throw
//    HttpError, whose `retryable` says whether trying again may help (a
//    certificate that does not verify is not retryable).
//  - A set Request::cancel abandons the transfer within about a second:
//    send() then throws kiln::Cancelled.
//  - Header names in Response::headers are lower case.
//  - https: the system CA bundle plus the CAs and client certificate found
//    for the URL's host:port under TlsOptions::certs_dirs, Docker's certs.d
//    layout; verification off only for Request::tls_verify = false.
//  - HTTP/2 where offered; connections and TLS sessions are reused across
//    requests and threads (a pool of handles sharing DNS and TLS sessions).
//    send() may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln::http {

struct Response;

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    // The body: either `body`, or `body_reader` producing `body_size` bytes
    // (returns 0 at end). A reader may be called again from the start after
    // `rewind` (needed when a request is retried).
    std::string body;
    std::function<std::size_t(void* buf, std::size_t size)> body_reader;
    std::function<void()> rewind;
    std::int64_t body_size = -1;
    // Off only for a registry the user declared insecure (--insecure-registry).
    bool tls_verify = true;
    // Optional: called once with the final response's status and headers
    // (body empty) before the first byte of its body reaches the sink, so a
    // caller can tell a 206 from a 200 before consuming data. May throw to
    // abort the transfer, like a sink.
    std::function<void(const Response& head)> on_head;
    // Set (by a signal handler) to abandon the transfer: send() then throws
    // kiln::Cancelled, within about a second.
    const CancelFlag* cancel = nullptr;
    // Ask the server for the document's modification time (Response::filetime).
    bool want_filetime = false;
};

struct Response {
    long status = 0;
    std::multimap<std::string, std::string> headers;
    std::string body;
    std::string url;  // effective URL, after redirects
    // Last-Modified as seconds since the epoch, when asked for and known; else -1.
    std::int64_t filetime = -1;

    std::string header(const std::string& lower_name) const;  // first value, or ""
};

using BodySink = std::function<void(const char* data, std::size_t size)>;

// A failure below HTTP: what() is "METHOD URL: reason" (the URL without its
// query); reason() is curl's words alone.
class HttpError : public Error {
  public:
    HttpError(const std::string& what, bool retryable)
        : Error(what), retryable(retryable), reason_(what) {}
    HttpError(const std::string& what, std::string reason, bool retryable)
        : Error(what), retryable(retryable), reason_(std::move(reason)) {}
    bool retryable;
    const std::string& reason() const { return reason_; }

  private:
    std::string reason_;
};

struct TlsOptions {
    // Docker's certs.d layout, searched in order: HOST/*.crt (ca.crt among
    // them) are CAs trusted for HOST besides the system bundle; HOST/X.cert
    // with HOST/X.key is a client certificate. HOST is "host:port" as written.
    std::vector<std::string> certs_dirs = {"/etc/docker/certs.d", "/etc/containers/certs.d"};
};

struct ClientOptions {
    TlsOptions tls;
    // A connection that takes longer fails (retryable).
    std::chrono::seconds connect_timeout{15};
    // A transfer under 1 byte/s for this long fails (retryable), so a dead
    // server never hangs kiln.
    std::chrono::seconds stall_timeout{30};
    std::string user_agent;  // empty: "kiln/<version>"
};

class HttpClient {
  public:
    explicit HttpClient(ClientOptions options = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    Response send(const Request& request, const BodySink& sink = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// "host:port" of an absolute URL as written (userinfo dropped), "" for a path.
std::string url_authority(const std::string& url);

// The URL without its query: upload states and signatures stay out of messages.
std::string strip_query(const std::string& url);

}  // namespace kiln::http
