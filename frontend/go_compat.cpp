#include "frontend/go_compat.h"

#include <cctype>
#include <sstream>

#include "base/edit_distance.h"
#include "frontend/ascii.h"

namespace kiln::frontend {
namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component of an image name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
bool valid_name_component(const std::string& s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
        return false;
    for (size_t i = 0; i < s.size();) {
        if (is_lower_alnum(s[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && !is_lower_alnum(s[j]))
            ++j;
        std::string sep = s.substr(i, j - i);
        if (sep != "." && sep != "_" && sep != "__" && !all_of_chars(sep, "-"))
            return false;
        i = j;
    }
    return true;
}

}  // namespace

std::optional<bool> parse_go_bool(std::string_view s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True")
        return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
        return false;
    return std::nullopt;
}

long long parse_go_duration(const std::string& s) {
    if (s == "0")
        return 0;
    long long total = 0;
    size_t i = 0;
    if (s.empty())
        return -1;
    while (i < s.size()) {
        size_t start = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
            ++i;
        if (start == i)
            return -1;
        double value = 0;
        try {
            value = std::stod(s.substr(start, i - start));
        } catch (const std::exception&) {
            return -1;
        }
        size_t ustart = i;
        while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.')
            ++i;
        std::string unit = s.substr(ustart, i - ustart);
        double mult = 0;
        if (unit == "ns")
            mult = 1;
        else if (unit == "us" || unit == "µs")
            mult = 1e3;
        else if (unit == "ms")
            mult = 1e6;
        else if (unit == "s")
            mult = 1e9;
        else if (unit == "m")
            mult = 60e9;
        else if (unit == "h")
            mult = 3600e9;
        else
            return -1;
        total += static_cast<long long>(value * mult);
    }
    return total;
}

std::string clean_abs_path(const std::string& p) {
    std::vector<std::string> parts;
    std::stringstream ss(p);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto& x : parts)
        out += "/" + x;
    return out.empty() ? "/" : out;
}

std::string join_abs_path(const std::string& dir, const std::string& p) {
    if (p.starts_with('/'))
        return clean_abs_path(p);
    return clean_abs_path((dir.empty() ? "/" : dir) + "/" + p);
}

std::optional<std::vector<std::string>> parse_csv_record(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    size_t i = 0;
    while (true) {
        cur.clear();
        if (i < s.size() && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                if (s[i] == '"') {
                    if (i + 1 < s.size() && s[i + 1] == '"') {
                        cur += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                cur += s[i++];
            }
            if (!closed || (i < s.size() && s[i] != ','))
                return std::nullopt;
        } else {
            while (i < s.size() && s[i] != ',') {
                if (s[i] == '"')
                    return std::nullopt;
                cur += s[i++];
            }
        }
        out.push_back(cur);
        if (i >= s.size())
            break;
        ++i;  // ','
    }
    return out;
}

bool valid_image_ref(std::string s) {
    if (s.empty())
        return false;
    if (auto at = s.find('@'); at != std::string::npos) {
        std::string dg = s.substr(at + 1);
        s = s.substr(0, at);
        auto colon = dg.find(':');
        if (colon == std::string::npos || colon == 0 ||
            !all_of_chars(dg.substr(colon + 1), "0123456789abcdef"))
            return false;
    }
    auto slash = s.rfind('/');
    auto colon = s.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        std::string tag = s.substr(colon + 1);
        s = s.substr(0, colon);
        if (tag.empty() || tag.size() > 128)
            return false;
        static const char* word = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        if (std::string(word).find(tag[0]) == std::string::npos)
            return false;
        if (!all_of_chars(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
            return false;
    }
    if (s.empty() || s.size() > 255)
        return false;
    std::vector<std::string> parts;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, '/'))
        parts.push_back(part);
    if (s.back() == '/')
        return false;
    size_t first = 0;
    if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string::npos ||
                             parts[0] == "localhost" || parts[0] != ascii_lower(parts[0]))) {
        std::string host = parts[0].substr(0, parts[0].find(':'));
        if (host.empty() ||
            !all_of_chars(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"))
            return false;
        first = 1;
    }
    for (size_t i = first; i < parts.size(); ++i) {
        if (!valid_name_component(parts[i]))
            return false;
    }
    return true;
}

std::string suggest(const std::string& name, const std::vector<std::string>& options) {
    std::string best;
    size_t best_dist = std::string::npos;
    for (const auto& o : options) {
        if (o == name)
            continue;
        size_t d = edit_distance(name, o);
        if (d < best_dist) {
            best_dist = d;
            best = o;
        }
    }
    size_t allowed = name.size() >= 4 ? 2 : 1;
    return best_dist <= allowed ? best : "";
}

}  // namespace kiln::frontend
