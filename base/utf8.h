// UTF-8 decoding and white space exactly as Go's standard library sees them, so kiln splits,
// trims and quotes text (Dockerfiles, go_quote) byte for byte like BuildKit does.
//
// Contract of decode(s, i), Go's utf8.DecodeRuneInString(s[i:]) (precondition: i < s.size()):
// a well-formed sequence yields its code point, width 1..4 and ok=true; anything else
// (invalid lead byte, bad or missing continuation, overlong form, surrogate, > U+10FFFF)
// yields U+FFFD, width 1, ok=false, so callers always advance and can resync on the next byte.
// A literal U+FFFD in the input decodes with width 3 and ok=true.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::utf8 {

struct Rune {
    char32_t value;
    std::size_t width;
    bool ok;
};

Rune decode(std::string_view s, std::size_t i);

// The longest prefix of `s` at most `max` bytes long that does not end inside a
// multi-byte sequence (continuation bytes after the cut are left out whole), for
// cutting text to a width without splitting a character.
std::size_t prefix_length(std::string_view s, std::size_t max);

// Go's unicode.IsSpace.
bool is_go_space(char32_t r);

// Appends the UTF-8 encoding of r; r must be a valid code point (not a surrogate).
void append(std::string& out, char32_t r);

// Pattern matchers must not conflate different invalid bytes (U+FFFD for all of them would
// make "\xff" match "\xfe"), so they use kInvalidByteBase + byte instead: outside Unicode,
// hence never equal to a real character nor inside a class range, and distinct per byte.
inline constexpr std::int32_t kInvalidByteBase = 0x110000;

// r.value, or kInvalidByteBase + s[i] when r (decoded at s[i]) is not ok.
std::int32_t distinct_code(std::string_view s, std::size_t i, const Rune& r);

}  // namespace kiln::utf8
