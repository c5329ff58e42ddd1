#include "frontend/dump_ast.h"

#include "base/go_quote.h"

namespace kiln::frontend {

std::string dump_node(const Node& node) {
    std::string out = node.keyword;
    if (!node.flags.empty()) {
        out += " [";
        for (size_t i = 0; i < node.flags.size(); ++i) {
            if (i > 0) {
                out += ' ';
            }
            out += go_quote(node.flags[i]);
        }
        out += ']';
    }
    if (node.onbuild) {
        out += " (" + dump_node(*node.onbuild) + ")";
    }
    for (const auto& arg : node.args) {
        out += ' ';
        out += go_quote(arg);
    }
    // Upstream trims the result; only an empty keyword (a line made of continuations alone)
    // leaves something to trim.
    size_t first = out.find_first_not_of(' ');
    return first == std::string::npos ? std::string{} : out.substr(first);
}

std::string dump_ast(const ParseResult& result) {
    std::string out;
    for (const auto& child : result.children) {
        out += '(';
        out += dump_node(child);
        out += ")\n";
    }
    return out;
}

}  // namespace kiln::frontend
