#include "base/utf8.h"

namespace kiln::utf8 {

Rune decode(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const std::size_t left = s.size() - i;
    const unsigned char b0 = b(0);
    if (b0 < 0x80) {
        return {b0, 1, true};
    }
    const auto cont = [&](std::size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return k < left && b(k) >= lo && b(k) <= hi;
    };
    // Narrowing the second byte's range (as Go's acceptRanges do) rejects overlong forms,
    // surrogates and code points past U+10FFFF without decoding first.
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (cont(1)) {
            return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (b(1) & 0x3F)), 2, true};
        }
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (cont(1, b0 == 0xE0 ? 0xA0 : 0x80, b0 == 0xED ? 0x9F : 0xBF) && cont(2)) {
            return {
                static_cast<char32_t>(((b0 & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F)),
                3, true};
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (cont(1, b0 == 0xF0 ? 0x90 : 0x80, b0 == 0xF4 ? 0x8F : 0xBF) && cont(2) && cont(3)) {
            return {static_cast<char32_t>(((b0 & 0x07) << 18) | ((b(1) & 0x3F) << 12) |
                                          ((b(2) & 0x3F) << 6) | (b(3) & 0x3F)),
                    4, true};
        }
    }
    return {0xFFFD, 1, false};
}

bool is_go_space(char32_t r) {
    switch (r) {
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case ' ':
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return r >= 0x2000 && r <= 0x200A;
    }
}

void append(std::string& out, char32_t r) {
    if (r < 0x80) {
        out += static_cast<char>(r);
    } else if (r < 0x800) {
        out += static_cast<char>(0xC0 | (r >> 6));
        out += static_cast<char>(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
        out += static_cast<char>(0xE0 | (r >> 12));
        out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (r & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (r >> 18));
        out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (r & 0x3F));
    }
}

std::int32_t distinct_code(std::string_view s, std::size_t i, const Rune& r) {
    return r.ok ? static_cast<std::int32_t>(r.value)
                : kInvalidByteBase + static_cast<unsigned char>(s[i]);
}

std::size_t prefix_length(std::string_view s, std::size_t max) {
    if (s.size() <= max)
        return s.size();
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80)
        --end;
    return end;
}

}  // namespace kiln::utf8
