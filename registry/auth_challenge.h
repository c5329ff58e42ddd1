// Parsing of HTTP WWW-Authenticate headers (RFC 7235) as registries send them:
// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`
// or `Basic realm="Registry"`, possibly several challenges in one header.
//
// Contract:
//  - Scheme names and parameter names are returned in lower case; values as
//    sent, with quoted-string escapes (\") resolved. Commas and '=' inside
//    quotes are part of the value.
//  - A token68 credential (`Negotiate abc==`) is kept in `token68`.
//  - Malformed input never throws: what can be parsed is returned, the rest
//    is skipped.
//  - Only the first kMaxChallengeHeader bytes are read: a registry's header is
//    a few hundred bytes, and a stranger's megabytes of words would each become
//    a challenge.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::registry {

struct AuthChallenge {
    std::string scheme;                         // "bearer", "basic"
    std::map<std::string, std::string> params;  // "realm", "service", "scope", ...
    std::string token68;

    std::string param(const std::string& lower_name) const;  // value, or ""
};

inline constexpr std::size_t kMaxChallengeHeader = 64 * 1024;

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

}  // namespace kiln::registry
