// Renders a parse in the format of BuildKit's parser test "result" files, so the parser can be
// checked byte for byte against upstream's expectations (and `kiln debug dump-ast`).
#pragma once

#include <string>
#include <string_view>

#include "frontend/parser.h"

namespace kiln::frontend {

// Go's strconv.Quote: "..." with \" \\ \a..\r, \xNN for other control bytes and invalid UTF-8,
// \uNNNN / \UNNNNNNNN for non-printable runes, printable UTF-8 kept raw. Printability follows
// Go's unicode.IsPrint for all assigned non-printable classes (Cc, Cf, Co, Zs, Zl, Zp and
// non-characters); unassigned code points are treated as printable.
std::string go_quote(std::string_view s);

// One node without the surrounding parentheses: `copy ["--from=a"] "x" "/y"`,
// `onbuild (run "echo")`, `cmd`.
std::string dump_node(const Node& node);

// The whole "result" text: one "(" + dump_node + ")\n" per instruction, so the string ends
// with exactly one '\n' (empty string for no children).
std::string dump_ast(const ParseResult& result);

}  // namespace kiln::frontend
