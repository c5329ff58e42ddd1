// How the client authenticates: credentials from the store (or check_login's),
// the WWW-Authenticate challenge a 401 carries, Basic, and bearer tokens
// fetched from the challenge's realm and cached per scope set.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "base/base64.h"
#include "registry/client_impl.h"
#include "registry/response_text.h"
#include "registry/url.h"

namespace kiln::registry {

namespace {

std::string scope_key(const std::vector<std::string>& scopes) {
    std::set<std::string> s(scopes.begin(), scopes.end());
    std::string k;
    for (const auto& x : s) {
        k += x + " ";
    }
    return k;
}

std::vector<std::string> split_spaces(const std::string& s) {
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

Response finish(const Request& r, Response resp) {
    if (resp.url.empty()) {
        resp.url = r.url.starts_with("/") ? std::string() : r.url;
    }
    return resp;
}

}  // namespace

std::optional<Credentials> Client::Impl::credentials(const Op& op) {
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

std::optional<std::string> Client::Impl::cached_token(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = tokens.find(key);
    if (it == tokens.end() || Clock::now() >= it->second.expires) {
        return std::nullopt;
    }
    return it->second.value;
}

std::string Client::Impl::fetch_token(const Op& op, const AuthChallenge& ch) {
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
            throw Error(repo_prefix(op) + ": authentication required (kiln login " + domain + ")");
        }
        throw Error(repo_prefix(op) + ": authentication failed (wrong credentials?)");
    }
    if (!is_2xx(resp.status)) {
        throw Error(repo_prefix(op) + ": token server " + strip_query(realm) + ": " +
                    status_detail(resp));
    }
    auto answer = parse_token_answer(resp.body);
    if (!answer) {
        throw Error(repo_prefix(op) + ": token server " + strip_query(realm) + " sent no token");
    }
    std::lock_guard lock(mu);
    // Renew a little early: a token that expires in flight costs a 401 round trip.
    tokens[scope_key(op.scopes)] =
        Token{answer->token, Clock::now() + std::chrono::seconds(answer->expires_in * 9 / 10)};
    return answer->token;
}

std::string Client::Impl::upfront_authorization(const Op& op) {
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

Response Client::Impl::send_authed(const Op& op, const Request& base, const BodySink& sink) {
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
            throw Error("registry " + domain + ": authentication required (kiln login " + domain +
                        ")");
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

}  // namespace kiln::registry
