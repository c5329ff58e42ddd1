#include "base/reference.h"

#include <cstdlib>
#include <string_view>

#include "base/error.h"

namespace kiln {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
constexpr std::size_t kMaxRepositoryLength = 255;  // distribution's RepositoryNameTotalLengthMax
constexpr std::size_t kMaxTagLength = 128;

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_word(char c) {
    return is_alnum(c) || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool has_upper(std::string_view s) {
    for (char c : s)
        if (c >= 'A' && c <= 'Z')
            return true;
    return false;
}

// pathComponent: [a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*
bool valid_path_component(std::string_view s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
        return false;
    std::size_t i = 0;
    while (i < s.size()) {
        if (is_lower_alnum(s[i])) {
            ++i;
            continue;
        }
        // A separator run, which the checks above keep away from both ends.
        std::size_t j = i;
        while (j < s.size() && !is_lower_alnum(s[j]))
            ++j;
        std::string_view sep = s.substr(i, j - i);
        bool ok = sep == "." || sep == "_" || sep == "__" ||
                  sep.find_first_not_of('-') == std::string_view::npos;
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

// domainNameComponent: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool valid_domain_component(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back()))
        return false;
    for (char c : s)
        if (!is_alnum(c) && c != '-')
            return false;
    return true;
}

// domainAndPort: (domainName | '[' [a-fA-F0-9:]+ ']') (':' [0-9]+)?
bool valid_domain(std::string_view s) {
    std::string_view host = s;
    std::string_view port;
    bool has_port = false;
    if (s.starts_with('[')) {
        auto close = s.find(']');
        if (close == std::string_view::npos || close == 1)
            return false;
        for (char c : s.substr(1, close - 1))
            if (!is_hex(c) && c != ':')
                return false;
        std::string_view rest = s.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return false;
            has_port = true;
            port = rest.substr(1);
        }
        host = {};
    } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        has_port = true;
    }
    if (has_port) {
        if (port.empty())
            return false;
        for (char c : port)
            if (!is_digit(c))
                return false;
    }
    if (!s.starts_with('[')) {
        std::size_t start = 0;
        for (;;) {
            auto dot = host.find('.', start);
            if (!valid_domain_component(host.substr(start, dot - start)))
                return false;
            if (dot == std::string_view::npos)
                break;
            start = dot + 1;
        }
    }
    return true;
}

bool valid_tag(std::string_view s) {
    if (s.empty() || s.size() > kMaxTagLength || !is_word(s.front()))
        return false;
    for (char c : s)
        if (!is_word(c) && c != '.' && c != '-')
            return false;
    return true;
}

bool is_identifier(std::string_view s) {
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!is_digit(c) && !(c >= 'a' && c <= 'f'))
            return false;
    return true;
}

// Docker's splitDockerDomain: the first of several components names a host
// only when it cannot be a repository path component of Docker Hub.
std::pair<std::string, std::string> split_docker_domain(std::string_view name) {
    auto slash = name.find('/');
    if (slash == std::string_view::npos)
        return {std::string(kDockerHub), "library/" + std::string(name)};
    std::string_view first = name.substr(0, slash);
    std::string_view rest = name.substr(slash + 1);
    std::string domain;
    std::string remainder;
    if (first == "localhost" || first.find_first_of(".:") != std::string_view::npos ||
        has_upper(first)) {
        domain = first == "index.docker.io" ? std::string(kDockerHub) : std::string(first);
        remainder = rest;
    } else {
        domain = kDockerHub;
        remainder = name;
    }
    if (domain == kDockerHub && remainder.find('/') == std::string::npos)
        remainder = "library/" + remainder;
    return {domain, remainder};
}

}  // namespace

Reference parse_reference(const std::string& text, std::string_view what) {
    auto fail = [&](const std::string& why) -> Error {
        return Error("invalid " + std::string(what) + " \"" + text + "\": " + why);
    };
    if (text.empty())
        throw fail("it is empty");
    if (is_identifier(text))
        throw fail("a bare 64-character hex string is an image ID, not a repository name");

    Reference ref;
    auto [domain, remainder] = split_docker_domain(text);
    ref.domain = std::move(domain);
    if (!valid_domain(ref.domain))
        throw fail("\"" + ref.domain + "\" is not a valid registry host");

    // Neither the path nor the tag may hold '@' or ':', so the first of each
    // ends the part before it.
    std::string_view rest = remainder;
    if (auto at = rest.find('@'); at != std::string_view::npos) {
        std::string_view digest = rest.substr(at + 1);
        rest = rest.substr(0, at);
        auto colon = digest.find(':');
        std::string_view algorithm = digest.substr(0, colon);
        if (colon == std::string_view::npos || algorithm.empty())
            throw fail("digest \"" + std::string(digest) + "\" has no algorithm");
        if (algorithm != "sha256")
            throw fail("digest algorithm \"" + std::string(algorithm) +
                       "\" is not supported (only sha256)");
        std::string_view hex = digest.substr(colon + 1);
        bool ok = hex.size() == 64;
        for (char c : hex)
            ok = ok && (is_digit(c) || (c >= 'a' && c <= 'f'));
        if (!ok)
            throw fail("digest \"" + std::string(digest) +
                       "\" is not sha256: followed by 64 lower-case hex characters");
        ref.digest = std::string(digest);
    }
    bool has_tag = false;
    if (auto colon = rest.find(':'); colon != std::string_view::npos) {
        std::string_view tag = rest.substr(colon + 1);
        rest = rest.substr(0, colon);
        if (!valid_tag(tag))
            throw fail(tag.empty() ? std::string("the tag after ':' is empty")
                                   : "tag \"" + std::string(tag) +
                                         "\" is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
        ref.tag = tag;
        has_tag = true;
    }

    ref.repository = rest;
    if (has_upper(ref.repository))
        throw fail("repository name must be lowercase");
    if (ref.repository.size() > kMaxRepositoryLength)
        throw fail("repository name must not be more than 255 characters");
    std::size_t start = 0;
    for (;;) {
        auto slash = ref.repository.find('/', start);
        std::string_view component = std::string_view(ref.repository).substr(start, slash - start);
        if (!valid_path_component(component)) {
            throw fail(component.empty()
                           ? std::string("repository name has an empty path component")
                           : "\"" + std::string(component) +
                                 "\" is not a valid repository name component (lower-case "
                                 "letters and digits, joined by '.', '_', '__' or '-')");
        }
        if (slash == std::string::npos)
            break;
        start = slash + 1;
    }

    if (!has_tag && !ref.digest)
        ref.tag = "latest";
    return ref;
}

std::string Reference::api_host() const {
    if (domain == kDockerHub) {
        const char* over = std::getenv("KILN_DOCKER_IO_HOST");
        if (over != nullptr && *over != '\0')
            return over;
        return "registry-1.docker.io";
    }
    return domain;
}

std::string Reference::manifest_ref() const {
    return digest ? *digest : tag;
}

std::string Reference::str() const {
    std::string out = domain + "/" + repository;
    if (!tag.empty())
        out += ":" + tag;
    if (digest)
        out += "@" + *digest;
    return out;
}

Reference Reference::with_digest(const std::string& d) const {
    Reference out = *this;
    out.tag.clear();
    out.digest = d;
    return out;
}

std::string familiar_string(const Reference& ref) {
    std::string out;
    if (ref.domain != kDockerHub) {
        out = ref.domain + "/" + ref.repository;
    } else {
        std::string_view repo = ref.repository;
        // "library/a/b" keeps its "library/": "a/b" is another repository.
        if (repo.starts_with("library/") && repo.find('/', 8) == std::string_view::npos)
            repo.remove_prefix(8);
        out = repo;
    }
    if (!ref.tag.empty())
        out += ":" + ref.tag;
    if (ref.digest)
        out += "@" + *ref.digest;
    return out;
}

std::string store_name(const Reference& ref) {
    Reference r = ref;
    if (r.digest)
        r.tag.clear();
    return familiar_string(r);
}

}  // namespace kiln
