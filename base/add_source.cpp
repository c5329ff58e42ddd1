#include "base/add_source.h"

#include <string>

namespace kiln {

namespace {

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
    return is_alpha(c) || (c >= '0' && c <= '9');
}
bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Go's url.Parse: whether `s` has a scheme and, after it, a rooted path rather than opaque
// text ("host:/path", "x:"), which rules out the scp-like form. Text Go refuses to parse
// (control characters, a leading ':') has no scheme.
bool has_scheme_without_opaque(std::string_view s) {
    for (char c : s)
        if (is_control(c))
            return false;
    if (s.empty() || !is_alpha(s[0]))
        return false;
    std::size_t i = 1;
    while (i < s.size() && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        ++i;
    if (i >= s.size() || s[i] != ':')
        return false;  // no scheme
    std::string_view rest = s.substr(i + 1);
    rest = rest.substr(0, rest.find('#'));
    rest = rest.substr(0, rest.find('?'));
    return rest.empty() || rest.front() == '/';
}

// sshutil's scp-like form: ^(?:[A-Za-z0-9_-]+@)?[A-Za-z0-9.-]+:.*$ (no newline).
bool is_scp_like(std::string_view s) {
    if (s.find('\n') != std::string_view::npos || has_scheme_without_opaque(s))
        return false;
    auto is_user = [](char c) { return is_alnum(c) || c == '_' || c == '-'; };
    auto is_host = [](char c) { return is_alnum(c) || c == '.' || c == '-'; };
    auto host_then_colon = [&](std::size_t i) {
        std::size_t start = i;
        while (i < s.size() && is_host(s[i]))
            ++i;
        return i > start && i < s.size() && s[i] == ':';
    };
    if (host_then_colon(0))
        return true;
    std::size_t i = 0;
    while (i < s.size() && is_user(s[i]))
        ++i;
    return i > 0 && i < s.size() && s[i] == '@' && host_then_colon(i + 1);
}

// gitutil.ParseGitRef accepting `s` as a remote that cannot be a local path.
bool is_git(std::string_view s) {
    if (s.starts_with("./") || s.starts_with("../"))
        return false;
    if (s.starts_with("github.com/"))
        return false;  // deprecated, indistinguishable from a local path: not for ADD
    std::size_t i = 0;
    while (i < s.size() && is_alnum(s[i]))
        ++i;
    if (i > 0 && s.substr(i).starts_with("://")) {
        const std::string scheme = lower(s.substr(0, i));
        if (scheme != "http" && scheme != "https" && scheme != "ssh" && scheme != "git")
            return false;
        for (char c : s)
            if (is_control(c))
                return false;  // url.Parse refuses it
        if (scheme == "ssh" || scheme == "git")
            return true;
        // An HTTP(S) URL is a git remote only when its path ends in ".git".
        std::string_view rest = s.substr(i + 3);
        rest = rest.substr(0, rest.find('#'));
        rest = rest.substr(0, rest.find('?'));
        auto slash = rest.find('/');
        std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
        return path.ends_with(".git");
    }
    return is_scp_like(s);
}

}  // namespace

AddSourceKind classify_add_source(std::string_view source) {
    if (is_git(source))
        return AddSourceKind::git;
    if (source.starts_with("http://") || source.starts_with("https://"))
        return AddSourceKind::http;
    return AddSourceKind::local;
}

}  // namespace kiln
