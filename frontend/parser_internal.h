// Internal to the parser files (parser.cpp, parser_directives.cpp, parser_json.cpp,
// parser_instruction.cpp, parser_heredoc.cpp): the pieces one of them defines and another
// uses. Not part of frontend's interface; parser.h is.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/parser.h"

namespace kiln::frontend::parser_detail {

// A parse problem found by a helper that does not know where it is; the main loop adds the
// file and line range.
struct Failure {
    std::string message;
};

// Go's whitespace notions, as upstream's parser applies them to raw text (parser.cpp).

// Upstream tests bytes with unicode.IsSpace(rune(b)) in the flag and HEALTHCHECK splitters;
// for 0x85/0xA0 that would cut UTF-8 sequences apart, so only ASCII whitespace counts here.
bool is_ascii_space(char c);
// The [\t\v\f\r ] class upstream uses to split keywords and whitespace-delimited arguments.
bool is_split_space(char c);
// strings.TrimLeftFunc(s, unicode.IsSpace)
std::string_view trim_left_space(std::string_view s);
// strings.TrimSpace
std::string_view trim_space(std::string_view s);
// s without trailing '\n' / '\r'.
std::string_view trim_newline(std::string_view s);
// A physical line that is a comment ('#' after leading whitespace).
bool is_comment(std::string_view raw_line);

inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Parser directives at the top of the file (parser_directives.cpp).
class Directives {
  public:
    char escape() const { return escape_; }
    const std::map<std::string, std::string>& values() const { return values_; }

    // Looks at one line (newline removed; left-trimmed when it starts an instruction). Only an
    // unbroken run of directive lines at the top of the file counts. Throws Failure for a
    // repeated directive or an invalid escape token.
    void observe(std::string_view line);

  private:
    bool done_ = false;
    char escape_ = '\\';
    std::map<std::string, std::string> values_;
};

// Exec form (parser_json.cpp): the strings of a JSON array at the start of rest, nullopt when
// rest is not a JSON array (use shell form). Throws Failure for an array with a non-string
// element.
std::optional<std::vector<std::string>> parse_json_array(std::string_view rest);

// One logical line (continuations joined) into a Node: keyword, flags, arguments as each
// instruction's upstream parser reads them (parser_instruction.cpp). Throws Failure.
Node node_from_line(std::string_view line, char escape);

// Whether node (or the instruction ONBUILD nests) may name heredocs: RUN, COPY, ADD in shell
// form.
bool can_contain_heredoc(const Node& node);

// The heredocs named on one logical line, in order (parser_heredoc.cpp). Throws Failure for a
// malformed delimiter.
std::vector<Heredoc> heredocs_in_line(std::string_view line);

}  // namespace kiln::frontend::parser_detail
