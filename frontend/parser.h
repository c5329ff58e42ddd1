// Dockerfile parser: text -> list of instruction nodes, with BuildKit's parser semantics
// (frontend/dockerfile/parser). Like BuildKit's parser it accepts any keyword; rejecting
// unknown instructions is a separate step (check_instruction_names) because the instruction
// layer, not the parser, owns that rule upstream.
//
// Nothing here expands variables or removes quotes: arguments are kept as written (ENV/LABEL
// values keep their quotes and escapes) so the shell-word expansion step sees exactly what
// BuildKit's would.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/dockerfile_error.h"

namespace kiln::frontend {

struct Heredoc {
    std::string name;  // delimiter with quotes and escapes removed ("EOF" for <<'EOF')
    // Body lines exactly as read, each with its own line ending, terminator excluded. Leading
    // tabs are NOT removed even when chomp_tabs is set: BuildKit strips them later (when the
    // heredoc is used), and chomp_heredoc_content() does that here.
    std::string content;
    bool expand = true;            // false when any part of the delimiter word was quoted
    bool chomp_tabs = false;       // <<-EOF
    unsigned file_descriptor = 0;  // the N in N<<EOF; 0 when absent
};

struct Node {              // one instruction
    std::string keyword;   // lower-case ASCII: "from", "copy", ... (any word the file used)
    std::string original;  // the logical line after continuation joining (first line left-trimmed)
    std::vector<std::string> flags;  // "--from=build": quotes removed, backslash escapes applied
    // Argument nodes exactly as BuildKit's dump lists them: ENV/LABEL give (key, value, sep)
    // triples with sep "" (legacy "ENV k v") or "="; HEALTHCHECK gives the type word then the
    // command; an unknown keyword gives one empty string. Empty for ONBUILD (see onbuild).
    std::vector<std::string> args;
    bool json_form = false;  // args came from a JSON array (exec form)
    // Heredocs in the order they appear on the line. Only RUN, COPY, ADD (also nested in
    // ONBUILD, in which case they are attached here, on the ONBUILD node) in shell form get any.
    std::vector<Heredoc> heredocs;
    // Nested instruction of ONBUILD; null for other keywords and for a bare "ONBUILD". The tree
    // is immutable after parsing, so copies of a Node may share it.
    std::shared_ptr<const Node> onbuild;
    // Comment lines directly above the instruction (text after '#', trimmed), as BuildKit's
    // PrevComment: an empty comment line restarts the list. Used by description lints.
    std::vector<std::string> comments;
    int start_line = 0, end_line = 0;  // 1-based physical lines; end includes heredoc bodies
    int column = 1;                    // 1-based byte column of the keyword on start_line
};

struct Warning {
    std::string short_msg;  // "Empty continuation line found in: RUN a     b"
    std::string detail;
    std::string url;
    int line = 0;  // last physical line of the instruction (BuildKit reports that one)
};

struct ParseResult {
    std::vector<Node> children;  // never empty: a file without instructions is an error
    char escape = '\\';          // '\\' or '`' (from "# escape=")
    std::vector<Warning> warnings;
    // Parser directives seen at the top of the file, name lower-cased ("syntax", "escape",
    // "check") -> value with trailing whitespace removed.
    std::map<std::string, std::string> directives;
    int start_line = 0, end_line = 0;  // first and last line of any instruction
};

// Longest physical line accepted, in bytes without the line ending (BuildKit's limit).
inline constexpr size_t kMaxLineLength = 65535;

// Most instructions a Dockerfile may hold (ONBUILD's nested one not counted apart).
// BuildKit has no such limit; kiln has one so that a hostile or runaway file (a context
// fetched from a URL, a generated file gone wrong) costs milliseconds and megabytes,
// not seconds and gigabytes: every instruction becomes a node and a step, and some
// lowering work grows with the instructions before it (ENV looks names up in the stage's
// list). Real Dockerfiles hold hundreds at most; an image has at most 127 layers.
inline constexpr size_t kMaxInstructions = 10000;

// Longest instruction accepted, in bytes once its continuation lines are joined (heredoc
// bodies are not counted). BuildKit has no such limit. The kernel runs no argument or
// environment string over 128 KiB, so a longer RUN, ENV or ARG could never run anyway; a
// 10 MB COPY of millions of sources cost a second and 440 MB before this limit.
inline constexpr size_t kMaxInstructionLength = 1 << 20;

// Parses a whole Dockerfile. Throws DockerfileError (with filename, line and source context)
// for: a line longer than kMaxLineLength, more than kMaxInstructions instructions, an
// instruction longer than kMaxInstructionLength, a repeated or
// invalid directive, ENV/LABEL without a value or with a word lacking '=', a JSON array with a
// non-string element, an unterminated heredoc, a file with no instructions.
ParseResult parse_dockerfile(std::string_view text, std::string_view filename = "Dockerfile");

// Throws DockerfileError "unknown instruction: RUNN (did you mean RUN?)" for the first node
// (ONBUILD-nested ones included) whose keyword is not a Dockerfile instruction. source is the
// Dockerfile text, used only for the error's context().
void check_instruction_names(const ParseResult& result, std::string_view filename = "Dockerfile",
                             std::string_view source = {});

// The Dockerfile instructions, upper-case, sorted.
const std::vector<std::string>& known_instructions();

// Closest instruction name within edit distance 2 of keyword, cased like keyword (all lower ->
// lower, otherwise upper), or nullopt. Exact matches give nullopt: nothing to suggest.
std::optional<std::string> suggest_instruction(std::string_view keyword);

// BuildKit's word splitting for ENV/LABEL/ARG: split on unquoted, unescaped whitespace; quotes
// and escapes stay in the words. Invalid UTF-8 bytes become U+FFFD, as upstream.
std::vector<std::string> split_words(std::string_view text, char escape = '\\');

// Recognises one heredoc word ("<<EOF", "<<-'EOF'", "3<<EOF"); nullopt for anything else
// ("<<", "<EOF", "\"<<EOF\""). Throws DockerfileError (no file/line) for a malformed delimiter
// such as "<<'EOF". The instruction layer uses it to tell heredoc sources of COPY/ADD apart.
std::optional<Heredoc> parse_heredoc(std::string_view word);

// The heredocs named on one logical line, in order (words inside quotes are not heredocs).
std::vector<Heredoc> heredocs_from_line(std::string_view line);

// Removes leading tabs from every line of content (what "<<-" means).
std::string chomp_heredoc_content(std::string_view content);

}  // namespace kiln::frontend
