// One HTTP exchange, as the registry client needs it; the seam unit tests
// replace (a scripted fake) while integration tests use the curl transport.
//
// Contract of Transport::send(): that of http::HttpClient::send()
// (base/http_client.h): one exchange, no retries or auth; 2xx bodies
// streamed to the sink; connection-level failures throw TransportError with
// `retryable`; a set Request::cancel throws kiln::Cancelled.
#pragma once

#include <memory>

#include "base/http_client.h"

namespace kiln::registry {

using Request = http::Request;
using Response = http::Response;
using BodySink = http::BodySink;
using TransportError = http::HttpError;
using TlsOptions = http::TlsOptions;

class Transport {
  public:
    virtual ~Transport() = default;
    virtual Response send(const Request& request, const BodySink& sink) = 0;
};

// libcurl through http::HttpClient: HTTP/2 where offered, connections and TLS
// sessions reused across requests and threads, the system CA bundle plus any
// per-host CA found through TlsOptions. A connection that takes over 15 s, or
// a transfer stalled (under 1 byte/s) for 30 s, fails with a retryable
// TransportError, so a dead registry never hangs kiln.
std::shared_ptr<Transport> make_curl_transport(const TlsOptions& tls = {});

}  // namespace kiln::registry
