#include "base/go_quote.h"

#include <cstdint>

#include "base/utf8.h"

namespace kiln {
namespace {

bool in(char32_t r, char32_t lo, char32_t hi) {
    return r >= lo && r <= hi;
}

// Go's unicode.IsPrint minus the unassigned-code-point table (see header).
bool is_printable(char32_t r) {
    if (r < 0x20 || in(r, 0x7F, 0x9F)) {
        return false;
    }
    if (r < 0x7F) {
        return true;
    }
    // Space separators other than U+0020, line/paragraph separators, soft hyphen.
    if (r == 0xA0 || r == 0xAD || r == 0x1680 || in(r, 0x2000, 0x200A) || r == 0x2028 ||
        r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000) {
        return false;
    }
    // Format characters (Cf).
    if (in(r, 0x600, 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || in(r, 0x890, 0x891) ||
        r == 0x8E2 || r == 0x180E || in(r, 0x200B, 0x200F) || in(r, 0x202A, 0x202E) ||
        in(r, 0x2060, 0x2064) || in(r, 0x2066, 0x206F) || r == 0xFEFF || in(r, 0xFFF9, 0xFFFB) ||
        r == 0x110BD || r == 0x110CD || in(r, 0x13430, 0x1343F) || in(r, 0x1BCA0, 0x1BCA3) ||
        in(r, 0x1D173, 0x1D17A) || r == 0xE0001 || in(r, 0xE0020, 0xE007F)) {
        return false;
    }
    // Private use and non-characters.
    if (in(r, 0xE000, 0xF8FF) || in(r, 0xF0000, 0x10FFFF) || in(r, 0xFDD0, 0xFDEF) ||
        (r & 0xFFFE) == 0xFFFE) {
        return false;
    }
    return true;
}

void append_hex(std::string& out, uint32_t v, int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
        out += kHex[(v >> shift) & 0xF];
    }
}

}  // namespace

std::string go_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (size_t i = 0; i < s.size();) {
        const utf8::Rune r = utf8::decode(s, i);
        if (!r.ok) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(s[i]), 2);
            i += 1;
            continue;
        }
        const char32_t c = r.value;
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (is_printable(c)) {
            out.append(s.substr(i, r.width));
        } else {
            switch (c) {
                case '\a':
                    out += "\\a";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\v':
                    out += "\\v";
                    break;
                default:
                    if (c < 0x20 || c == 0x7F) {
                        out += "\\x";
                        append_hex(out, c, 2);
                    } else if (c < 0x10000) {
                        out += "\\u";
                        append_hex(out, c, 4);
                    } else {
                        out += "\\U";
                        append_hex(out, c, 8);
                    }
            }
        }
        i += r.width;
    }
    out += '"';
    return out;
}

std::string go_quote_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0)
            out += ' ';
        out += go_quote(v[i]);
    }
    return out + "]";
}

}  // namespace kiln
