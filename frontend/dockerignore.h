// `.dockerignore`: reading the file, matching context paths against its patterns, and
// choosing which ignore file applies. Same semantics as moby/patternmatcher (the matcher
// Docker and BuildKit use) and its ignorefile reader; the conformance cases are in
// testdata/conformance/dockerignore.md.
//
// Paths given to the matcher are relative to the context root, use `/`, and should be clean
// (no `.`/`..` components, no doubled or trailing `/`), as a context walker produces them.
//
// Pattern syntax: `*` (any run of non-`/` characters), `?` (one non-`/` character),
// `**` (any number of path components, including none; `**/x` also matches `x`),
// `[...]` / `[^...]` character classes with ranges, `\c` makes `c` literal; everything else
// is literal. A leading `!` re-includes what earlier patterns excluded. A pattern naming a
// directory excludes everything below it.
//
// Known, deliberate differences from upstream (none is reachable from its tests): upstream
// translates patterns to a Go regexp textually, so `*` or `?` inside a class, POSIX classes
// such as `[[:alpha:]]` and escaped letters such as `\d` take regexp meanings there; here a
// class holds exactly the characters written, and `\c` is always the literal `c`.
// The reader does not enforce bufio.Scanner's 64 KiB line limit; the matcher refuses a
// pattern longer than that instead (kMaxPatternSize), so a comment line may be longer.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::frontend {

// A malformed pattern ("syntax error in pattern") or a bare `!`.
class PatternError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Docker's ignore-file reader: drops a UTF-8 BOM, lines whose first byte is `#`, and blank
// lines; trims each line; splits off a leading `!` (and trims again); cleans the rest like
// Go's filepath.Clean and removes one leading `/`; puts the `!` back. A bare `!` is kept
// (the matcher rejects it). Empty content gives an empty list. Throws PatternError for
// more than PatternMatcher::kMaxPatterns patterns.
std::vector<std::string> parse_dockerignore(std::string_view content);

// Go's path.Clean: collapses `//`, removes `.` components, resolves `..` lexically, drops a
// trailing `/`. "" becomes ".".
std::string clean_path(std::string_view path);

class PatternMatcher {
  public:
    // Docker's ignore-file reader refuses longer lines (bufio.Scanner's limit).
    static constexpr std::size_t kMaxPatternSize = 65536;
    // Most patterns one matcher (or one ignore file) holds. Docker has no such limit; every
    // pattern is tried on every path of the context, so a 10 MB file of them would cost
    // seconds per build. Real ignore files hold hundreds at most.
    static constexpr std::size_t kMaxPatterns = 10000;
    // Most bytes all patterns of one matcher hold together: what compiling and matching cost
    // grows with it (a character of a pattern is a token).
    static constexpr std::size_t kMaxPatternBytes = 1 << 20;

    // How a pattern is evaluated (upstream's classification; observable only through speed).
    enum class Kind {
        kExact,   // no wildcard: string equality
        kPrefix,  // literal text then a final `**`: starts-with
        kSuffix,  // `**` then literal text: ends-with
        kRegex,   // anything else
    };

    struct Pattern {
        std::string text;  // cleaned, without the leading `!`
        bool exclusion = false;
    };

    // Per-pattern results for a directory, handed to its children so that they need not
    // re-check their ancestors (see matches_using_parent_results).
    struct MatchInfo {
        std::vector<bool> parent_matched;
    };

    // Trims and cleans each pattern, drops empty ones, checks their syntax. Throws
    // PatternError for a bare `!`, a malformed pattern, one longer than kMaxPatternSize
    // bytes, or more than kMaxPatterns of them or kMaxPatternBytes in all. A pattern that passes
    // this check but cannot be compiled (a class range such as `[z-a]`) throws only when evaluated,
    // every time, exactly like upstream.
    explicit PatternMatcher(const std::vector<std::string>& patterns);
    ~PatternMatcher();
    PatternMatcher(PatternMatcher&&) noexcept;
    PatternMatcher& operator=(PatternMatcher&&) noexcept;
    PatternMatcher(const PatternMatcher&);
    PatternMatcher& operator=(const PatternMatcher&);

    // True when `path` is ignored: patterns are applied in order, each tested against the
    // path and every ancestor of it (so excluding a directory excludes its contents, and
    // a later `!dir` re-includes them). The path is not cleaned. Throws PatternError when a
    // pattern that has to be evaluated cannot be compiled.
    bool matches(std::string_view path) const;

    // Upstream's MatchesUsingParentResults: matches()'s answer computed from the parent
    // directory's `parent` info (pass an empty MatchInfo for a path whose parent was not
    // evaluated, or for a top-level path). Stores this path's info in *info (if non-null)
    // for its own children. Like upstream's (deprecated there for this, buildx#850), it
    // can differ from matches() when an inclusion pattern that matches an ancestor comes
    // again after an exclusion (`*`, `!a/b/**`, `*` on a/b/c: matches() ignores it, this
    // does not), since a pattern skipped at the parent is not carried down. The context
    // walker and the copier use matches(), never this (tests/fuzz/dockerignore_fuzzer).
    bool matches_using_parent_results(std::string_view path, const MatchInfo& parent,
                                      MatchInfo* info = nullptr) const;

    // Whether some path strictly below `dir` could end up not ignored although `dir` itself
    // is ignored, i.e. whether a context walker must descend into an ignored directory.
    // Conservative: false only when provably nothing below `dir` is re-included (no `!`
    // pattern can match any path that starts with `dir/`). `dir` is clean and relative.
    bool may_reinclude_under(std::string_view dir) const;

    bool has_exclusions() const { return has_exclusions_; }
    bool empty() const;
    std::vector<Pattern> patterns() const;
    // Precondition: index < patterns().size().
    Kind kind(size_t index) const;

  private:
    struct Compiled;
    std::vector<Compiled> compiled_;
    bool has_exclusions_ = false;
};

// Docker's convenience check: builds a matcher from `patterns`, cleans `path`, and never
// ignores the context root itself ("."). Throws PatternError like the constructor and
// matches().
bool matches_or_parent_matches(std::string_view path, const std::vector<std::string>& patterns);

// Which ignore file applies to a build: `<dockerfile_path>.dockerignore` (the Dockerfile's
// own name plus `.dockerignore`, in the Dockerfile's directory) if it exists, else
// `<context_dir>/.dockerignore` if it exists, else none. `dockerfile_path` is the path the
// Dockerfile is read from, empty or "-" when it comes from stdin (then only the context's
// file counts). `exists` is asked about candidate paths in that order; frontend does no I/O.
std::optional<std::string> choose_dockerignore(
    std::string_view dockerfile_path, std::string_view context_dir,
    const std::function<bool(const std::string& path)>& exists);

}  // namespace kiln::frontend
