#include "registry/response_text.h"
#include "content/oci.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace kiln::registry {

namespace {

// Digits only, no sign, no overflow.
std::optional<std::int64_t> parse_count(std::string_view s) {
    if (s.empty() || s.size() > 19)
        return std::nullopt;
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 0)
        return std::nullopt;
    return v;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// One line of printable text: control characters become spaces, and a long
// message is cut at a UTF-8 character boundary.
std::string one_line(std::string s) {
    for (char& c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            c = ' ';
    }
    if (s.size() > kMaxMessage) {
        std::size_t cut = kMaxMessage;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
            --cut;
        s.resize(cut);
        s += "…";
    }
    return s;
}

}  // namespace

std::optional<std::int64_t> content_range_start(std::string_view value) {
    std::string_view v = trim(value);
    if (!v.starts_with("bytes "))
        return std::nullopt;
    v = trim(v.substr(6));
    auto slash = v.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    std::string_view range = v.substr(0, slash), total = v.substr(slash + 1);
    auto dash = range.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto start = parse_count(range.substr(0, dash));
    auto end = parse_count(range.substr(dash + 1));
    if (!start || !end || *start > *end)
        return std::nullopt;
    if (total != "*") {
        auto t = parse_count(total);
        if (!t || *end >= *t)
            return std::nullopt;
    }
    return start;
}

std::optional<std::int64_t> upload_range_next(std::string_view value) {
    std::string_view v = trim(value);
    if (v.starts_with("bytes="))
        v.remove_prefix(6);
    auto dash = v.find('-');
    if (dash == std::string_view::npos)
        return std::nullopt;
    auto start = parse_count(v.substr(0, dash));
    auto end = parse_count(v.substr(dash + 1));
    if (!start || !end || *start > *end || *end == INT64_MAX)
        return std::nullopt;
    return *end == 0 ? 0 : *end + 1;
}

std::optional<TokenAnswer> parse_token_answer(std::string_view body) {
    auto j = content::try_parse_json(body);
    if (!j.is_object())
        return std::nullopt;
    TokenAnswer a;
    if (auto it = j.find("token"); it != j.end() && it->is_string())
        a.token = it->get<std::string>();
    if (a.token.empty()) {
        if (auto it = j.find("access_token"); it != j.end() && it->is_string())
            a.token = it->get<std::string>();
    }
    if (a.token.empty())
        return std::nullopt;
    if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
        // Unsigned JSON integers above INT64_MAX read as the largest; clamp
        // before any arithmetic on them.
        std::int64_t s = it->is_number_unsigned()
                             ? static_cast<std::int64_t>(
                                   std::min<std::uint64_t>(it->get<std::uint64_t>(), 86400))
                             : it->get<std::int64_t>();
        a.expires_in = std::clamp<std::int64_t>(s, 10, 86400);
    }
    return a;
}

std::string error_body_message(std::string_view body) {
    auto j = content::try_parse_json(body);
    if (!j.is_object())
        return "";
    std::string msg;
    if (auto errs = j.find("errors"); errs != j.end() && errs->is_array() && !errs->empty()) {
        const auto& e = (*errs)[0];
        if (e.is_object()) {
            if (auto m = e.find("message"); m != e.end() && m->is_string())
                msg = m->get<std::string>();
            if (msg.empty()) {
                if (auto c = e.find("code"); c != e.end() && c->is_string())
                    msg = c->get<std::string>();
            }
        }
    } else if (auto d = j.find("details"); d != j.end() && d->is_string()) {
        msg = d->get<std::string>();  // Docker Hub's token server
    }
    return one_line(std::move(msg));
}

}  // namespace kiln::registry
