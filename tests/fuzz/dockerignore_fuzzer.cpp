// libFuzzer target for context filtering (frontend/dockerignore.h): the input is
// patterns, then a NUL, then paths, one per line (without a NUL, a fixed set of
// paths). The patterns are read twice: as a .dockerignore file (the reader's
// cleaning) and as raw COPY --exclude patterns. For every path, the properties
// the context walker and the copier rely on (both use matches() and
// may_reinclude_under()):
//  - when an ignored directory is skipped because may_reinclude_under() says
//    nothing below it can come back, nothing below it does come back;
//  - a malformed pattern is PatternError, never another exception;
//  - no input takes seconds (libFuzzer's -timeout).
// matches_using_parent_results() (upstream's incremental form, unused by the
// product) is run for crashes only: its answer may differ from matches(), as
// upstream's does (its contract in dockerignore.h).
// A violation, any other exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/dockerignore.h"

namespace {

using kiln::frontend::PatternError;
using kiln::frontend::PatternMatcher;

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "dockerignore_fuzzer: %s\n", what.c_str());
    std::abort();
}

std::vector<std::string> lines_of(std::string_view text, std::size_t limit) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size() && out.size() < limit) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// matches(), or nullopt when it throws.
std::optional<bool> full(const PatternMatcher& m, const std::string& path) {
    try {
        return m.matches(path);
    } catch (const PatternError&) {
        return std::nullopt;
    }
}

void check(const PatternMatcher& m, const std::string& path) {
    const std::optional<bool> whole = full(m, path);
    PatternMatcher::MatchInfo parent;
    std::size_t at = 0;
    while (true) {
        std::size_t slash = path.find('/', at);
        std::string prefix = path.substr(0, slash);
        // Upstream's incremental form, fed as a walker feeds it (its answer may differ
        // from matches(): see its contract).
        PatternMatcher::MatchInfo info;
        try {
            (void)m.matches_using_parent_results(prefix, parent, &info);
        } catch (const PatternError&) {
            break;
        }
        if (slash == std::string::npos)
            break;
        // A directory the context walker and the copier skip: nothing below it may
        // come back.
        if (auto dir = full(m, prefix); dir && *dir && !m.may_reinclude_under(prefix)) {
            if (whole && !*whole)
                finding("\"" + path + "\" is re-included below \"" + prefix +
                        "\", which may_reinclude_under() says re-includes nothing");
        }
        parent = std::move(info);
        at = slash + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const std::string_view pattern_text = input.substr(0, nul);
    std::vector<std::string> paths;
    if (nul == std::string_view::npos) {
        paths = {"Dockerfile",          "src/main.cpp", "a/b/c/d.txt", ".git/config",
                 "node_modules/x/y.js", "dir",          "a b/[c]",     "x/y",
                 "\xff\xfe/\xc3\xa9"};
    } else {
        // Paths as the walker gives them: clean and relative.
        for (auto& p : lines_of(input.substr(nul + 1), 32)) {
            std::string c = kiln::frontend::clean_path(p);
            if (c != "." && c != ".." && !c.starts_with("../") && !c.starts_with("/"))
                paths.push_back(std::move(c));
        }
    }
    std::vector<std::vector<std::string>> pattern_sets;
    try {
        pattern_sets.push_back(kiln::frontend::parse_dockerignore(pattern_text));  // a file
    } catch (const PatternError&) {  // too many patterns: refused before any match
    }
    pattern_sets.push_back(lines_of(pattern_text, 64));  // COPY --exclude patterns
    for (const auto& patterns : pattern_sets) {
        std::optional<PatternMatcher> m;
        try {
            m.emplace(patterns);
        } catch (const PatternError&) {
            continue;
        }
        for (const auto& p : paths)
            check(*m, p);
    }
    return 0;
}
