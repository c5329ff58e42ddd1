// ASCII-only case mapping (base/ascii.h): Dockerfile keywords, stage names and
// flags are compared case-insensitively in ASCII, whatever the locale (as
// BuildKit). Also the small string helpers the lowering files share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/ascii.h"

namespace kiln::frontend {

using kiln::ascii_lower;
using kiln::ascii_upper;

// Whether s is non-empty and made only of characters in set.
inline bool all_of_chars(std::string_view s, std::string_view set) {
    return !s.empty() && s.find_first_not_of(set) == std::string_view::npos;
}

inline std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i)
            out += sep;
        out += v[i];
    }
    return out;
}

}  // namespace kiln::frontend
