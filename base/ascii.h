// ASCII-only case mapping, whatever the locale: header names, auth schemes, stage and
// context names, Dockerfile keywords are all compared this way (as Go's
// strings.ToLower does for them in BuildKit and distribution).
#pragma once

#include <string>
#include <string_view>

namespace kiln {

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

inline std::string ascii_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace kiln
