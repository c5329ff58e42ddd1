#include "registry/url.h"

#include <cctype>

namespace kiln::registry {

std::string percent_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string append_query(const std::string& url, const std::string& param) {
    std::string base = url;
    std::string fragment;
    if (auto hash = base.find('#'); hash != std::string::npos) {
        fragment = base.substr(hash);
        base.resize(hash);
    }
    char sep = '?';
    if (auto q = base.find('?'); q != std::string::npos) {
        sep = (q + 1 == base.size() || base.back() == '&') ? '\0' : '&';
    }
    if (sep != '\0') {
        base += sep;
    }
    return base + param + fragment;
}

namespace {

bool has_scheme(const std::string& s) {
    auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0) {
        return false;
    }
    for (std::size_t i = 0; i < colon; ++i) {
        char c = s[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) {
            return false;
        }
    }
    return s.compare(colon, 3, "://") == 0;
}

}  // namespace

std::string resolve_url(const std::string& base, const std::string& ref) {
    if (ref.empty()) {
        return base;
    }
    if (has_scheme(ref)) {
        return ref;
    }
    auto p = base.find("://");
    if (p == std::string::npos) {
        return ref;
    }
    std::string scheme = base.substr(0, p);
    if (ref.starts_with("//")) {
        return scheme + ":" + ref;
    }
    std::size_t path_start = base.find_first_of("/?#", p + 3);
    std::string origin = base.substr(0, path_start);
    if (ref.starts_with("/")) {
        return origin + ref;
    }
    std::string path = path_start == std::string::npos ? "/" : base.substr(path_start);
    path = path.substr(0, path.find_first_of("?#"));
    if (ref.starts_with("?")) {
        return origin + path + ref;
    }
    // A relative path replaces the last segment of the base path.
    path = path.substr(0, path.rfind('/') + 1);
    return origin + path + ref;
}

}  // namespace kiln::registry
