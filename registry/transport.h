// One HTTP exchange, as the registry client needs it; the seam unit tests
// replace (a scripted fake) while integration tests use CurlTransport.
//
// Contract of Transport::send():
//  - Sends `request` once (no retries, no auth: the client adds those) and
//    returns the final response after redirects. On a redirect to another
//    host, the Authorization header is not forwarded (blob storage redirects
//    carry their own signature).
//  - A 2xx response body is passed to `sink` as it arrives, when a sink is
//    given; otherwise (and always for non-2xx) it is kept in Response::body,
//    up to 1 MiB (an error body is only read for its message).
//  - A sink may throw to abort the transfer; the exception propagates.
//  - Connection-level failures (refused, reset, timeout, TLS) throw
//    TransportError, whose `retryable` says whether trying again may help
//    (a certificate that does not verify is not retryable).
//  - Header names in Response::headers are lower case.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln::registry {

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
    // Set (by a signal handler) to abandon the transfer: send() then throws a
    // TransportError that is not retryable, within about a second.
    const std::atomic<bool>* cancel = nullptr;
};

struct Response {
    long status = 0;
    std::multimap<std::string, std::string> headers;
    std::string body;
    std::string url;  // effective URL, after redirects

    std::string header(const std::string& lower_name) const;  // first value, or ""
};

using BodySink = std::function<void(const char* data, std::size_t size)>;

class TransportError : public Error {
  public:
    TransportError(const std::string& what, bool retryable) : Error(what), retryable(retryable) {}
    bool retryable;
};

class Transport {
  public:
    virtual ~Transport() = default;
    virtual Response send(const Request& request, const BodySink& sink) = 0;
};

struct TlsOptions {
    // Docker's certs.d layout, searched in order: HOST/*.crt (ca.crt among
    // them) are CAs trusted for HOST besides the system bundle; HOST/X.cert
    // with HOST/X.key is a client certificate. HOST is "host:port" as written.
    std::vector<std::string> certs_dirs = {"/etc/docker/certs.d", "/etc/containers/certs.d"};
};

// libcurl: HTTP/2 where offered, connections and TLS sessions reused across
// requests and threads (a shared pool of handles), the system CA bundle
// plus any per-host CA found through TlsOptions. A connection that takes
// over 15 s, or a transfer stalled (under 1 byte/s) for 30 s, fails with a
// retryable TransportError, so a dead registry never hangs kiln.
std::shared_ptr<Transport> make_curl_transport(const TlsOptions& tls = {});

}  // namespace kiln::registry
