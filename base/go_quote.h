// Go's quoting of strings, for messages and history text that must read exactly as
// BuildKit (a Go program) prints them with %q.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Go's strconv.Quote (and fmt's %q of a string): "..." with \" \\ \a \b \f \n \r \t \v,
// \xNN for other control bytes and for each byte of invalid UTF-8, \uNNNN / \UNNNNNNNN for
// non-printable runes, printable UTF-8 kept raw. Printability follows Go's unicode.IsPrint for
// all assigned non-printable classes (Cc, Cf, Co, Zs other than ' ', Zl, Zp and
// non-characters); unassigned code points are treated as printable.
std::string go_quote(std::string_view s);

// fmt's %q of a []string: ["a" "b"], each element as go_quote gives it; [] when empty.
std::string go_quote_list(const std::vector<std::string>& v);

}  // namespace kiln
