#include "registry/client.h"

#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "content/unique_fd.h"
#include "registry/auth_challenge.h"
#include "registry/base64.h"
#include "registry/reference.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

using Clock = std::chrono::steady_clock;
using content::Digest;

constexpr std::size_t kMaxManifestSize = 4 << 20;
constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws, "
    "application/vnd.docker.distribution.manifest.v1+json";

bool is_2xx(long s) {
    return s >= 200 && s < 300;
}

// What one request is about, for scopes and for error messages.
struct Op {
    std::string repository;
    std::string object;                  // "blob sha256:...", "manifest latest", or ""
    std::vector<std::string> scopes;     // bearer token scopes this request needs
    const Credentials* login = nullptr;  // check_login: these credentials, not the store's
};

std::string pull_scope(const std::string& repo) {
    return "repository:" + repo + ":pull";
}
std::string push_scope(const std::string& repo) {
    return "repository:" + repo + ":pull,push";
}

// A 4xx that says the registry does not take the blob this way: try the other.
class UploadRejected : public Error {
  public:
    using Error::Error;
};

std::string reason_phrase(long status) {
    static const std::map<long, const char*> phrases = {
        {400, "bad request"},
        {401, "unauthorized"},
        {403, "forbidden"},
        {404, "not found"},
        {405, "method not allowed"},
        {408, "request timeout"},
        {409, "conflict"},
        {413, "payload too large"},
        {416, "range not satisfiable"},
        {429, "too many requests"},
        {500, "internal server error"},
        {502, "bad gateway"},
        {503, "service unavailable"},
        {504, "gateway timeout"},
    };
    auto it = phrases.find(status);
    return it == phrases.end() ? std::string("unexpected status") : std::string(it->second);
}

// "404 blob unknown to registry": the status and the registry's own words when
// it sent a distribution-spec error body.
std::string status_detail(const Response& r) {
    std::string msg;
    auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
        const auto& e = j["errors"][0];
        if (e.is_object()) {
            if (e.contains("message") && e["message"].is_string()) {
                msg = e["message"].get<std::string>();
            } else if (e.contains("code") && e["code"].is_string()) {
                msg = e["code"].get<std::string>();
            }
        }
    } else if (j.is_object() && j.contains("details") && j["details"].is_string()) {
        msg = j["details"].get<std::string>();  // Docker Hub's token server
    }
    if (msg.empty()) {
        msg = reason_phrase(r.status);
    }
    // One line, whatever the registry sent.
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::replace(msg.begin(), msg.end(), '\r', ' ');
    return std::to_string(r.status) + " " + msg;
}

bool retryable_status(long s) {
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

std::optional<std::chrono::milliseconds> retry_after(const Response& r) {
    std::string v = r.header("retry-after");
    if (v.empty() ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        v.size() > 6) {
        return std::nullopt;  // an HTTP-date: plain backoff is good enough
    }
    return std::chrono::seconds(std::stol(v));
}

// Exponential backoff with full jitter, at least what Retry-After asked for
// (capped, so a registry cannot park kiln for an hour).
std::chrono::milliseconds backoff(const RetryPolicy& p, int attempt,
                                  std::optional<std::chrono::milliseconds> after) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    auto cap = p.base_delay.count();
    for (int i = 1; i < attempt && cap < p.max_delay.count(); ++i) {
        cap *= 2;
    }
    cap = std::min<long long>(cap, p.max_delay.count());
    std::uniform_int_distribution<long long> dist(0, std::max<long long>(cap, 0));
    std::chrono::milliseconds d(dist(rng));
    if (after) {
        d = std::max(d, std::min(*after, p.max_delay));
    }
    return d;
}

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

// "0-1023" → 1024 bytes received. Distribution reports "0-0" for an empty
// upload too, so that reads as nothing received.
std::optional<std::int64_t> range_next(const std::string& range) {
    std::string v = range;
    if (v.starts_with("bytes=")) {
        v = v.substr(6);
    }
    auto dash = v.find('-');
    if (dash == std::string::npos) {
        return std::nullopt;
    }
    try {
        std::int64_t end = std::stoll(v.substr(dash + 1));
        return end <= 0 ? 0 : end + 1;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The first byte of a 206's "Content-Range: bytes START-END/TOTAL".
std::optional<std::int64_t> content_range_start(const std::string& v) {
    std::size_t i = v.find_first_of("0123456789");
    if (i == std::string::npos) {
        return std::nullopt;
    }
    try {
        return std::stoll(v.substr(i));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void set_header(Request& r, const std::string& name, const std::string& value) {
    auto& h = r.headers;
    h.erase(std::remove_if(
                h.begin(), h.end(),
                [&](const auto& kv) { return strcasecmp(kv.first.c_str(), name.c_str()) == 0; }),
            h.end());
    if (!value.empty()) {
        h.emplace_back(name, value);
    }
}

std::string api_host_of(const std::string& domain) {
    Reference r;
    r.domain = domain;
    return r.api_host();
}

}  // namespace

struct Client::Impl {
    Impl(std::string d, ClientOptions o) : domain(std::move(d)), opt(std::move(o)) {
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
        tls_verify = !insecure;
    }

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
    bool creds_loaded = false;
    std::optional<Credentials> creds;
    std::optional<AuthChallenge> bearer;  // the registry's bearer challenge, once seen
    bool basic = false;                   // the registry asked for Basic
    std::map<std::string, Token> tokens;  // by sorted scope set

    // ---- messages ----

    std::string prefix(const Op& op) const {
        std::string s = "registry " + domain;
        if (!op.repository.empty()) {
            s += ": " + op.repository;
        }
        if (!op.object.empty()) {
            s += ": " + op.object;
        }
        return s;
    }
    std::string repo_prefix(const Op& op) const {
        return "registry " + domain + (op.repository.empty() ? "" : ": " + op.repository);
    }

    [[noreturn]] void fail(const Op& op, const Response& r) {
        std::string msg = prefix(op) + ": " + status_detail(r);
        if ((r.status == 401 || r.status == 403) && !credentials(op)) {
            msg += " (kiln login " + domain + " if the repository is private)";
        }
        throw Error(msg);
    }

    // ---- credentials and tokens ----

    std::optional<Credentials> credentials(const Op& op) {
        if (op.login) {
            return *op.login;
        }
        std::lock_guard lock(mu);
        if (!creds_loaded) {
            creds = opt.credentials ? opt.credentials(domain) : CredentialStore().lookup(domain);
            creds_loaded = true;
        }
        return creds;
    }

    static std::string scope_key(const std::vector<std::string>& scopes) {
        std::set<std::string> s(scopes.begin(), scopes.end());
        std::string k;
        for (const auto& x : s) {
            k += x + " ";
        }
        return k;
    }

    std::optional<std::string> cached_token(const std::string& key) {
        std::lock_guard lock(mu);
        auto it = tokens.find(key);
        if (it == tokens.end() || Clock::now() >= it->second.expires) {
            return std::nullopt;
        }
        return it->second.value;
    }

    std::string fetch_token(const Op& op, const AuthChallenge& ch) {
        std::string realm = ch.param("realm");
        if (realm.empty()) {
            throw Error(repo_prefix(op) + ": bearer challenge without a realm");
        }
        std::set<std::string> scopes(op.scopes.begin(), op.scopes.end());
        for (const auto& s : split_spaces(ch.param("scope"))) {
            scopes.insert(s);
        }
        std::string service = ch.param("service");
        auto c = credentials(op);

        Request r;
        if (c && !c->identity_token.empty()) {
            // OAuth2 refresh-token grant, as docker does for identity tokens.
            r.method = "POST";
            r.url = realm;
            std::string joined;
            for (const auto& s : scopes) {
                joined += (joined.empty() ? "" : " ") + s;
            }
            r.body = "grant_type=refresh_token&client_id=kiln&refresh_token=" +
                     percent_encode(c->identity_token) + "&service=" + percent_encode(service);
            if (!joined.empty()) {
                r.body += "&scope=" + percent_encode(joined);
            }
            r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        } else {
            std::string url = realm;
            if (!service.empty()) {
                url = append_query(url, "service=" + percent_encode(service));
            }
            for (const auto& s : scopes) {
                url = append_query(url, "scope=" + percent_encode(s));
            }
            if (c && !c->username.empty()) {
                url = append_query(url, "account=" + percent_encode(c->username));
                r.headers.emplace_back("Authorization",
                                       "Basic " + base64_encode(c->username + ":" + c->password));
            }
            r.url = url;
        }
        r.tls_verify = tls_verify || url_authority(r.url) != host;

        Response resp = retrying(op, r, [&](const Request& req) {
            Response x = transport->send(req, {});
            if (x.url.empty()) {
                x.url = req.url;
            }
            return x;
        });
        if (resp.status == 401 || resp.status == 403) {
            if (op.login) {
                throw Error("registry " + domain + ": login failed: " + status_detail(resp));
            }
            if (!c) {
                throw Error(repo_prefix(op) + ": authentication required (kiln login " + domain +
                            ")");
            }
            throw Error(repo_prefix(op) + ": authentication failed (wrong credentials?)");
        }
        if (!is_2xx(resp.status)) {
            throw Error(repo_prefix(op) + ": token server " + strip_query(realm) + ": " +
                        status_detail(resp));
        }
        auto j = nlohmann::json::parse(resp.body, nullptr, false);
        std::string token;
        if (j.is_object()) {
            if (j.contains("token") && j["token"].is_string()) {
                token = j["token"].get<std::string>();
            }
            if (token.empty() && j.contains("access_token") && j["access_token"].is_string()) {
                token = j["access_token"].get<std::string>();
            }
        }
        if (token.empty()) {
            throw Error(repo_prefix(op) + ": token server " + strip_query(realm) +
                        " sent no token");
        }
        long expires_in = 60;  // the distribution spec's default
        if (j.contains("expires_in") && j["expires_in"].is_number_integer()) {
            expires_in = std::max<long>(j["expires_in"].get<long>(), 10);
        }
        std::lock_guard lock(mu);
        // Renew a little early: a token that expires in flight costs a 401 round trip.
        tokens[scope_key(op.scopes)] =
            Token{token, Clock::now() + std::chrono::seconds(expires_in * 9 / 10)};
        return token;
    }

    static std::vector<std::string> split_spaces(const std::string& s) {
        std::vector<std::string> out;
        std::size_t i = 0;
        while (i < s.size()) {
            std::size_t j = s.find(' ', i);
            if (j == std::string::npos) {
                j = s.size();
            }
            if (j > i) {
                out.push_back(s.substr(i, j - i));
            }
            i = j + 1;
        }
        return out;
    }

    // The Authorization header to send before knowing whether it is needed:
    // once the registry has said how it authenticates, ask that way upfront.
    std::string upfront_authorization(const Op& op) {
        std::optional<AuthChallenge> ch;
        bool use_basic = false;
        {
            std::lock_guard lock(mu);
            ch = bearer;
            use_basic = basic;
        }
        if (ch) {
            auto t = cached_token(scope_key(op.scopes));
            return "Bearer " + (t ? *t : fetch_token(op, *ch));
        }
        if (use_basic) {
            if (auto c = credentials(op)) {
                return "Basic " + base64_encode(c->username + ":" + c->password);
            }
        }
        return "";
    }

    // ---- sending ----

    // Sends once, choosing the scheme for a path-only URL ("/v2/...").
    Response send_with_scheme(Request r, const BodySink& sink) {
        if (!r.url.starts_with("/")) {
            if (url_authority(r.url) == host) {
                r.tls_verify = tls_verify;
            }
            return transport->send(r, sink);
        }
        std::string path = r.url;
        Scheme s;
        {
            std::lock_guard lock(mu);
            s = scheme;
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

    // One attempt, with authentication: a 401 is answered once with what
    // the challenge asks for.
    Response send_authed(const Op& op, const Request& base, const BodySink& sink) {
        Request r = base;
        bool ours = r.url.starts_with("/") || url_authority(r.url) == host;
        std::string sent;
        if (ours) {
            sent = upfront_authorization(op);
            set_header(r, "Authorization", sent);
        }
        Response resp = finish(r, send_with_scheme(r, sink));
        if (resp.status != 401 || !ours) {
            return resp;
        }
        std::vector<AuthChallenge> challenges;
        auto [lo, hi] = resp.headers.equal_range("www-authenticate");
        for (auto it = lo; it != hi; ++it) {
            auto cs = parse_www_authenticate(it->second);
            challenges.insert(challenges.end(), cs.begin(), cs.end());
        }
        const AuthChallenge* b = nullptr;
        const AuthChallenge* basic_ch = nullptr;
        for (const auto& c : challenges) {
            if (c.scheme == "bearer" && !b) {
                b = &c;
            } else if (c.scheme == "basic" && !basic_ch) {
                basic_ch = &c;
            }
        }
        std::string auth;
        if (b) {
            {
                std::lock_guard lock(mu);
                bearer = *b;
                tokens.erase(scope_key(op.scopes));  // rejected, or expired early
            }
            auth = "Bearer " + fetch_token(op, *b);
        } else if (basic_ch) {
            auto c = credentials(op);
            if (!c) {
                throw Error("registry " + domain + ": authentication required (kiln login " +
                            domain + ")");
            }
            {
                std::lock_guard lock(mu);
                basic = true;
            }
            auth = "Basic " + base64_encode(c->username + ":" + c->password);
            if (auth == sent) {
                return resp;  // these credentials were just refused
            }
        } else {
            return resp;
        }
        if (r.rewind) {
            r.rewind();
        }
        set_header(r, "Authorization", auth);
        return finish(r, send_with_scheme(r, sink));
    }

    static Response finish(const Request& r, Response resp) {
        if (resp.url.empty()) {
            resp.url = r.url.starts_with("/") ? std::string() : r.url;
        }
        return resp;
    }

    // Runs `attempt` until it gives a response that is not worth retrying or
    // the policy's attempts are used up; the last response is returned.
    template <typename F>
    Response retrying(const Op& op, Request& r, F&& attempt, int attempts = 0,
                      const std::function<void(Request&)>& before = {}) {
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
            } catch (const TransportError& e) {
                if (!e.retryable || i >= n) {
                    throw TransportError(prefix(op) + ": " + e.what(), e.retryable);
                }
                wait = backoff(opt.retry, i, std::nullopt);
            }
            sleep_unless_cancelled(wait);
        }
    }

    void check_cancel() const {
        if (opt.cancel && *opt.cancel)
            throw Error("interrupted");
    }

    // Backoff that a Ctrl-C cuts short.
    void sleep_unless_cancelled(std::chrono::milliseconds wait) const {
        const auto end = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < end) {
            check_cancel();
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                std::chrono::milliseconds(50), end - std::chrono::steady_clock::now()));
        }
    }

    Response execute(const Op& op, Request r, const BodySink& sink = {}, int attempts = 0,
                     const std::function<void(Request&)>& before = {}) {
        return retrying(
            op, r, [&](const Request& req) { return send_authed(op, req, sink); }, attempts,
            before);
    }

    // The absolute URL a Location header names, relative to the response's URL.
    std::string location(const Response& r) {
        std::string loc = r.header("location");
        if (loc.empty()) {
            return "";
        }
        std::string base = r.url;
        if (base.empty()) {
            std::lock_guard lock(mu);
            base = std::string(scheme == Scheme::http ? "http" : "https") + "://" + host + "/";
        }
        return resolve_url(base, loc);
    }

    // ---- uploads ----

    std::string start_upload(const Op& op, const std::string& repo) {
        Request r;
        r.method = "POST";
        r.url = "/v2/" + repo + "/blobs/uploads/";
        Response resp = execute(op, r);
        if (resp.status != 202 && !is_2xx(resp.status)) {
            fail(op, resp);
        }
        std::string loc = location(resp);
        if (loc.empty()) {
            throw Error(prefix(op) + ": registry opened an upload without a Location");
        }
        return loc;
    }

    void cancel_upload(const Op& op, const std::string& loc) {
        try {
            Request r;
            r.method = "DELETE";
            r.url = loc;
            execute(op, r, {}, 1);
        } catch (const Error&) {
            // Best effort: the registry expires abandoned uploads anyway.
        }
    }

    bool blob_exists(const Op& op, const std::string& repo, const Digest& d) {
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

    static bool falls_back(long status) {
        return status >= 400 && status < 500 && status != 401 && status != 403 && status != 429;
    }

    // The final PUT closing an upload session with the blob's digest. A
    // retryable failure left after `attempts` throws a retryable TransportError.
    void finish_upload(const Op& op, const std::string& repo, const Digest& d, Request put,
                       int attempts = 0) {
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

    void push_monolithic(const Op& op, const std::string& repo, const Digest& d, std::int64_t size,
                         const content::BlobStore& store) {
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
            put.body_reader = [reader](void* buf, std::size_t n) {
                return (*reader)->read(buf, n);
            };
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

    // Where an upload session stands: the next offset it expects, or nullopt
    // when the registry no longer knows it.
    std::optional<std::int64_t> upload_offset(const Op& op, const std::string& loc) {
        Request r;
        r.url = loc;
        Response resp = execute(op, r);
        if (!is_2xx(resp.status)) {
            return std::nullopt;
        }
        return range_next(resp.header("range")).value_or(0);
    }

    void push_chunked(const Op& op, const std::string& repo, const Digest& d, std::int64_t size,
                      const content::BlobStore& store) {
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
            patch.headers.emplace_back(
                "Content-Range", std::to_string(offset) + "-" + std::to_string(offset + n - 1));
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
                auto next = range_next(resp->header("range"));
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
};

Client::Client(std::string domain, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(domain), std::move(options))) {}

Client::~Client() = default;

const std::string& Client::domain() const {
    return impl_->domain;
}

void Client::check_login(const Credentials& c) {
    Op op;
    op.login = &c;
    Request r;
    r.url = "/v2/";
    Response resp = impl_->execute(op, r);
    if (is_2xx(resp.status)) {
        return;
    }
    if (resp.status == 401 || resp.status == 403) {
        throw Error("registry " + impl_->domain + ": login failed: " + status_detail(resp));
    }
    impl_->fail(op, resp);
}

FetchedManifest Client::get_manifest(const std::string& repository, const std::string& ref) {
    Op op{repository, "manifest " + ref, {pull_scope(repository)}};
    Request r;
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Accept", kManifestAccept);
    std::string bytes;
    r.on_head = [&bytes](const Response&) { bytes.clear(); };
    BodySink sink = [&](const char* data, std::size_t n) {
        if (bytes.size() + n > kMaxManifestSize) {
            throw Error(impl_->prefix(op) + ": manifest is larger than 4 MiB");
        }
        bytes.append(data, n);
    };
    Response resp = impl_->execute(op, r, sink);
    if (resp.status == 404) {
        throw Error(impl_->repo_prefix(op) + ": manifest " + ref + " not found");
    }
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    std::string type = resp.header("content-type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') {
        type.pop_back();
    }
    auto j = nlohmann::json::parse(bytes, nullptr, false);
    const std::string schema1 =
        ": manifest uses Docker schema 1, which kiln does not support (re-push it with a "
        "current client)";
    if (type.starts_with("application/vnd.docker.distribution.manifest.v1")) {
        throw Error(impl_->prefix(op) + schema1);
    }
    if (!j.is_object()) {
        throw Error(impl_->prefix(op) + ": manifest is not a JSON object");
    }
    if (j.contains("schemaVersion") && j["schemaVersion"] == 1) {
        throw Error(impl_->prefix(op) + schema1);
    }
    FetchedManifest m;
    m.digest = Digest::of(bytes);
    if (ref.starts_with("sha256:")) {
        Digest want = Digest::parse(ref);
        if (want != m.digest) {
            throw Error(impl_->prefix(op) + ": registry sent content with digest " +
                        m.digest.str() + ", not " + want.str());
        }
    }
    // A generic JSON type says nothing: the document's own mediaType does.
    if ((type.empty() || type == "application/json" || type == "text/plain") &&
        j.contains("mediaType") && j["mediaType"].is_string()) {
        type = j["mediaType"].get<std::string>();
    }
    m.media_type = type;
    m.bytes = std::move(bytes);
    return m;
}

std::optional<Digest> Client::head_manifest(const std::string& repository, const std::string& ref) {
    Op op{repository, "manifest " + ref, {pull_scope(repository)}};
    Request r;
    r.method = "HEAD";
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Accept", kManifestAccept);
    Response resp = impl_->execute(op, r);
    if (resp.status == 404) {
        return std::nullopt;
    }
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    std::string d = resp.header("docker-content-digest");
    if (d.starts_with("sha256:")) {
        return Digest::parse(d);
    }
    // Not every registry sends the header: the manifest itself tells.
    return get_manifest(repository, ref).digest;
}

content::BlobInfo Client::fetch_blob(const std::string& repository, const Digest& digest,
                                     std::int64_t size, const content::BlobStore& store,
                                     const std::function<void(std::int64_t)>& progress) {
    if (store.has(digest)) {
        return {digest, static_cast<std::int64_t>(std::filesystem::file_size(store.path(digest)))};
    }
    Op op{repository, "blob " + digest.str(), {pull_scope(repository)}};
    // A blob that does not match its digest is fetched once more from the
    // start (a proxy may have mangled it), then reported.
    for (int round = 1;; ++round) {
        std::optional<content::BlobStore::Writer> w;
        w.emplace(store.writer());
        auto restart = [&] {
            w.reset();
            w.emplace(store.writer());
        };
        Request r;
        r.url = "/v2/" + repository + "/blobs/" + digest.str();
        r.on_head = [&](const Response& h) {
            if (!is_2xx(h.status) || w->size() == 0) {
                return;
            }
            if (h.status == 206) {
                auto start = content_range_start(h.header("content-range"));
                if (start && *start == w->size()) {
                    return;  // resumed where we stopped
                }
                restart();
                throw TransportError(impl_->prefix(op) + ": registry resumed at the wrong offset",
                                     true);
            }
            restart();  // 200: the registry ignored Range and sends it all again
        };
        bool sink_refused = false;
        BodySink sink = [&](const char* data, std::size_t n) {
            if (size >= 0 && w->size() + static_cast<std::int64_t>(n) > size) {
                sink_refused = true;
                throw Error(impl_->prefix(op) + ": registry sent more than the expected " +
                            std::to_string(size) + " bytes");
            }
            w->write(data, n);
            if (progress) {
                progress(w->size());
            }
        };
        auto before = [&](Request& req) {
            set_header(req, "Range",
                       w->size() > 0 ? "bytes=" + std::to_string(w->size()) + "-" : "");
        };
        Response resp;
        for (;;) {
            // Retries are counted per call; a connection that keeps dropping
            // but delivers more each time is still getting the blob here.
            const std::int64_t had = w->size();
            try {
                resp = impl_->execute(op, r, sink, 0, before);
                break;
            } catch (const Error&) {
                if (sink_refused || w->size() <= had) {
                    throw;
                }
            }
        }
        bool complete_already = resp.status == 416 && size >= 0 && w->size() == size;
        if (resp.status == 404) {
            throw Error(impl_->repo_prefix(op) + ": blob " + digest.str() + " not found");
        }
        if (!is_2xx(resp.status) && !complete_already) {
            impl_->fail(op, resp);
        }
        if (size >= 0 && w->size() != size) {
            if (round < 2) {
                continue;
            }
            throw Error(impl_->prefix(op) + ": registry sent " + std::to_string(w->size()) +
                        " bytes, expected " + std::to_string(size));
        }
        try {
            return w->commit(digest);
        } catch (const Error& e) {
            if (round < 2) {
                continue;
            }
            std::string what = e.what();
            auto got = what.rfind("got ");
            throw Error(impl_->prefix(op) + ": digest mismatch" +
                        (got == std::string::npos ? "" : " (" + what.substr(got) + ")"));
        }
    }
}

bool Client::has_blob(const std::string& repository, const Digest& digest) {
    Op op{repository, "blob " + digest.str(), {pull_scope(repository)}};
    return impl_->blob_exists(op, repository, digest);
}

bool Client::mount_blob(const std::string& repository, const Digest& digest,
                        const std::string& from_repository) {
    Op op{
        repository, "blob " + digest.str(), {push_scope(repository), pull_scope(from_repository)}};
    Request r;
    r.method = "POST";
    r.url = "/v2/" + repository + "/blobs/uploads/?mount=" + percent_encode(digest.str()) +
            "&from=" + percent_encode(from_repository);
    Response resp = impl_->execute(op, r);
    if (resp.status == 201) {
        return true;
    }
    if (resp.status == 202) {
        std::string loc = impl_->location(resp);
        if (!loc.empty()) {
            impl_->cancel_upload(op, loc);
        }
        return false;
    }
    impl_->fail(op, resp);
}

void Client::push_blob(const std::string& repository, const Digest& digest, std::int64_t size,
                       const content::BlobStore& store) {
    Op op{repository, "blob " + digest.str(), {push_scope(repository)}};
    if (size < 0) {
        size = static_cast<std::int64_t>(std::filesystem::file_size(store.path(digest)));
    }
    bool chunked = size > impl_->opt.chunk_threshold;
    auto push = [&](bool in_chunks) {
        if (in_chunks) {
            impl_->push_chunked(op, repository, digest, size, store);
        } else {
            impl_->push_monolithic(op, repository, digest, size, store);
        }
    };
    try {
        push(chunked);
    } catch (const UploadRejected&) {
        // The registry refused this way of uploading (a size limit on one PUT,
        // no PATCH support): the other way may suit it.
        try {
            push(!chunked);
        } catch (const UploadRejected& e) {
            throw Error(e.what());
        }
    }
}

Digest Client::put_manifest(const std::string& repository, const std::string& ref,
                            const std::string& media_type, const std::string& bytes) {
    Op op{repository, "manifest " + ref, {push_scope(repository)}};
    Request r;
    r.method = "PUT";
    r.url = "/v2/" + repository + "/manifests/" + ref;
    r.headers.emplace_back("Content-Type", media_type);
    r.body = bytes;
    Response resp = impl_->execute(op, r);
    if (!is_2xx(resp.status)) {
        impl_->fail(op, resp);
    }
    Digest mine = Digest::of(bytes);
    std::string theirs = resp.header("docker-content-digest");
    if (theirs.starts_with("sha256:") && theirs != mine.str()) {
        throw Error(impl_->prefix(op) + ": registry stored it as " + theirs + ", expected " +
                    mine.str());
    }
    return mine;
}

}  // namespace kiln::registry
