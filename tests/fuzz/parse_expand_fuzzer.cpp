// libFuzzer target for the Dockerfile frontend: parse, instruction-name check, AST dump, word
// expansion of every argument and flag, and .dockerignore matching, all on the same input.
// The documented exceptions (DockerfileError, ExpansionError, PatternError) are expected
// outcomes; anything else escaping, a sanitizer report, a hang or a leak is a finding.
// Build and run: see tests/fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/dockerfile_error.h"
#include "frontend/dockerignore.h"
#include "frontend/dump_ast.h"
#include "frontend/parser.h"
#include "frontend/shell_lex.h"

namespace {

using kiln::frontend::DockerfileError;
using kiln::frontend::Environment;
using kiln::frontend::ExpansionError;
using kiln::frontend::Node;
using kiln::frontend::PatternError;
using kiln::frontend::ShellLex;
using kiln::frontend::ShellLexOptions;

const Environment& fuzz_env() {
    static const Environment env{
        {"HOME", "/root"},
        {"PATH", "/usr/local/bin:/usr/bin:/bin"},
        {"EMPTY", ""},
        {"SPACED", "a b  c"},
        {"GLOB", "*.txt"},
        {"QUOTE", "it's \"q\""},
        {"VERSION", "1.2.3-rc1"},
        {"TARGETARCH", "amd64"},
    };
    return env;
}

void expand(const ShellLex& lex, std::string_view word) {
    const Environment& env = fuzz_env();
    try {
        (void)lex.process_word(word, env);
    } catch (const ExpansionError&) {
    }
    try {
        (void)lex.process_words(word, env);
    } catch (const ExpansionError&) {
    }
}

void expand_node(const std::vector<ShellLex>& lexers, const Node& node) {
    for (const ShellLex& lex : lexers) {
        for (const std::string& arg : node.args) {
            expand(lex, arg);
        }
        for (const std::string& flag : node.flags) {
            expand(lex, flag);
        }
        for (const auto& heredoc : node.heredocs) {
            if (heredoc.expand) {
                expand(lex, heredoc.content);
            }
        }
    }
    if (node.onbuild) {
        expand_node(lexers, *node.onbuild);
    }
}

void fuzz_dockerfile(std::string_view text) {
    kiln::frontend::ParseResult result;
    try {
        result = kiln::frontend::parse_dockerfile(text, "Dockerfile");
    } catch (const DockerfileError& e) {
        (void)e.context();
        return;
    }
    try {
        kiln::frontend::check_instruction_names(result, "Dockerfile", text);
    } catch (const DockerfileError& e) {
        (void)e.context();
    }
    (void)kiln::frontend::dump_ast(result);

    ShellLexOptions skip_unset;
    skip_unset.skip_unset_env = true;
    ShellLexOptions raw;
    raw.raw_quotes = true;
    raw.raw_escapes = true;
    const std::vector<ShellLex> lexers{ShellLex(result.escape), ShellLex(result.escape, skip_unset),
                                       ShellLex(result.escape, raw)};
    for (const Node& node : result.children) {
        expand_node(lexers, node);
        for (const auto& heredoc : node.heredocs) {
            if (heredoc.chomp_tabs) {
                (void)kiln::frontend::chomp_heredoc_content(heredoc.content);
            }
        }
    }
}

void fuzz_dockerignore(std::string_view text) {
    static const std::vector<std::string_view> kPaths{"Dockerfile",
                                                      "src/main.cpp",
                                                      "a/b/c/d.txt",
                                                      ".git/config",
                                                      "node_modules/x/y.js",
                                                      "dir",
                                                      "x",
                                                      "**",
                                                      "a b/[c]",
                                                      "\xff\xfe/\xc3\xa9"};
    try {
        const kiln::frontend::PatternMatcher matcher(kiln::frontend::parse_dockerignore(text));
        for (std::string_view path : kPaths) {
            try {
                (void)matcher.matches(path);
            } catch (const PatternError&) {
            }
        }
        // Walk one path component by component the way the context walker does.
        kiln::frontend::PatternMatcher::MatchInfo parent;
        for (std::string_view path : {"a", "a/b", "a/b/c", "a/b/c/d.txt"}) {
            kiln::frontend::PatternMatcher::MatchInfo info;
            try {
                (void)matcher.matches_using_parent_results(path, parent, &info);
            } catch (const PatternError&) {
                break;
            }
            parent = std::move(info);
            (void)matcher.may_reinclude_under(path);
        }
    } catch (const PatternError&) {
    }
    // The same lines taken as raw patterns, without the ignore-file reader's cleaning.
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size() && lines.size() < 64) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    try {
        const kiln::frontend::PatternMatcher matcher(lines);
        for (std::string_view path : kPaths) {
            try {
                (void)matcher.matches(path);
            } catch (const PatternError&) {
            }
        }
    } catch (const PatternError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    fuzz_dockerfile(text);
    fuzz_dockerignore(text);
    return 0;
}
