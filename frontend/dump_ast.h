// Renders a parse in the format of BuildKit's parser test "result" files, so the parser can be
// checked byte for byte against upstream's expectations (and `kiln debug dump-ast`).
#pragma once

#include <string>
#include <string_view>

#include "frontend/parser.h"

namespace kiln::frontend {

// One node without the surrounding parentheses: `copy ["--from=a"] "x" "/y"`,
// `onbuild (run "echo")`, `cmd`.
std::string dump_node(const Node& node);

// The whole "result" text: one "(" + dump_node + ")\n" per instruction, so the string ends
// with exactly one '\n' (empty string for no children).
std::string dump_ast(const ParseResult& result);

}  // namespace kiln::frontend
