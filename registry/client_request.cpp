// Sending a request to the registry and reporting its failure: the request
// loop (authentication inside retries), Ctrl-C, Location headers, and the
// messages that name the host, the repository and the object.

#include <strings.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include "registry/client_impl.h"
#include "registry/response_text.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

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

}  // namespace

std::string status_detail(const Response& r) {
    std::string msg = error_body_message(r.body);  // one line, whatever the registry sent
    if (msg.empty()) {
        msg = reason_phrase(r.status);
    }
    return std::to_string(r.status) + " " + msg;
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

// ---- messages ----

std::string Client::Impl::prefix(const Op& op) const {
    std::string s = "registry " + domain;
    if (!op.repository.empty()) {
        s += ": " + op.repository;
    }
    if (!op.object.empty()) {
        s += ": " + op.object;
    }
    return s;
}

std::string Client::Impl::repo_prefix(const Op& op) const {
    return "registry " + domain + (op.repository.empty() ? "" : ": " + op.repository);
}

void Client::Impl::fail(const Op& op, const Response& r) {
    std::string msg = prefix(op) + ": " + status_detail(r);
    if ((r.status == 401 || r.status == 403) && !credentials(op)) {
        msg += " (kiln login " + domain + " if the repository is private)";
    }
    throw Error(msg);
}

// ---- sending ----

void Client::Impl::check_cancel() const {
    throw_if_cancelled(opt.cancel);
}

void Client::Impl::sleep_unless_cancelled(std::chrono::milliseconds wait) const {
    const auto end = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < end) {
        check_cancel();
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(50), end - std::chrono::steady_clock::now()));
    }
}

Response Client::Impl::execute(const Op& op, Request r, const BodySink& sink, int attempts,
                               const std::function<void(Request&)>& before) {
    return retrying(
        op, r, [&](const Request& req) { return send_authed(op, req, sink); }, attempts, before);
}

std::string Client::Impl::location(const Response& r) {
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

}  // namespace kiln::registry
