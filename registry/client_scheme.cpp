// Which scheme the client speaks to its host in: https, falling back to plain
// http for a loopback or insecure registry when https cannot connect. A
// loopback host is first asked, in plain http and without credentials, whether
// it is a registry speaking http (`GET /v2/`): a failed TLS handshake costs a
// load of the system's CA bundle (about 50 ms with OpenSSL 3), paid on every
// pull from the plain-http local registries that CI jobs run.

#include <algorithm>
#include <string>

#include "base/reference.h"
#include "registry/client_impl.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

bool is_loopback(const std::string& hostport) {
    std::string host = hostport;
    if (host.starts_with("[")) {
        host = host.substr(1, host.find(']') - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        host = host.substr(0, host.find(':'));
    }
    if (host == "localhost" || host == "::1") {
        return true;
    }
    if (!host.starts_with("127.")) {
        return false;
    }
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::string strip_port(const std::string& hostport) {
    if (hostport.starts_with("[")) {
        return hostport.substr(0, hostport.find(']') + 1);
    }
    if (std::count(hostport.begin(), hostport.end(), ':') == 1) {
        return hostport.substr(0, hostport.find(':'));
    }
    return hostport;
}

std::string api_host_of(const std::string& domain) {
    Reference r;
    r.domain = domain;
    return r.api_host();
}

}  // namespace

Client::Impl::Impl(std::string d, ClientOptions o) : domain(std::move(d)), opt(std::move(o)) {
    host = api_host_of(domain);
    transport = opt.transport ? opt.transport : make_curl_transport();
    bool insecure = false;
    for (const auto& r : opt.insecure_registries) {
        if (r == domain || r == host ||
            (strip_port(r) == r && (r == strip_port(domain) || r == strip_port(host)))) {
            insecure = true;
        }
    }
    http_fallback = insecure || is_loopback(host);
    ping_http_first = is_loopback(host);
    tls_verify = !insecure;
}

bool Client::Impl::speaks_plain_http() {
    Request ping;
    ping.url = "http://" + host + "/v2/";
    try {
        Response r = transport->send(ping, {});
        // Every answer of a distribution registry carries this header, its
        // 401 too; a TLS server's "plain HTTP request to an HTTPS port"
        // page does not.
        return !r.header("docker-distribution-api-version").empty();
    } catch (const TransportError&) {
        return false;
    }
}

Response Client::Impl::send_with_scheme(Request r, const BodySink& sink) {
    if (!r.url.starts_with("/")) {
        if (url_authority(r.url) == host) {
            r.tls_verify = tls_verify;
        }
        return transport->send(r, sink);
    }
    std::string path = r.url;
    Scheme s;
    bool ping;
    {
        std::lock_guard lock(mu);
        s = scheme;
        ping = ping_http_first;
        ping_http_first = false;
    }
    if (s == Scheme::unknown && ping && speaks_plain_http()) {
        std::lock_guard lock(mu);
        scheme = s = Scheme::http;
    }
    if (s == Scheme::http) {
        r.url = "http://" + host + path;
        return transport->send(r, sink);
    }
    r.url = "https://" + host + path;
    r.tls_verify = tls_verify;
    if (s == Scheme::https || !http_fallback) {
        return transport->send(r, sink);
    }
    try {
        Response resp = transport->send(r, sink);
        std::lock_guard lock(mu);
        scheme = Scheme::https;
        return resp;
    } catch (const TransportError& e) {
        // A certificate that does not verify means the host speaks TLS: plain
        // http would only hide the real problem.
        if (!e.retryable) {
            throw;
        }
    }
    if (r.rewind) {
        r.rewind();
    }
    r.url = "http://" + host + path;
    Response resp = transport->send(r, sink);
    std::lock_guard lock(mu);
    scheme = Scheme::http;
    return resp;
}

}  // namespace kiln::registry
