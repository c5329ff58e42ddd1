// Shell-style word expansion for Dockerfile instructions, modelled on BuildKit's
// frontend/dockerfile/shell Lex (same grammar, same results, same error cases).
//
// A "word" is the raw text of one instruction argument (e.g. the source of COPY, the value
// of ENV). Processing expands $VAR / ${VAR...} references, removes quotes and escape
// characters, and optionally splits the result into words the way a shell would.
//
// Supported forms: $NAME, ${NAME}, ${NAME:-w}, ${NAME-w}, ${NAME:+w}, ${NAME+w},
// ${NAME:?msg}, ${NAME?msg}, ${NAME#pat}, ${NAME##pat}, ${NAME%pat}, ${NAME%%pat},
// ${NAME/pat/repl}, ${NAME//pat/repl}. Positional ($0, $1, $999) and special parameters
// ($@ $* $# $? $- $$ $!) are ordinary (normally unset) names, as upstream. `$` followed by
// anything that is not a name is kept literally.
//
// Known, deliberate differences from upstream (all outside its test data):
//  * Bytes that are not valid UTF-8 are kept as they are; Go's scanner turns them into
//    U+FFFD.
//  * A name may contain letters, digits and `_`; every non-ASCII code point that is not
//    Unicode white space counts as a letter (upstream asks unicode.IsLetter/IsDigit,
//    which needs tables the standard library does not have).
//  * With skip_unset_env, an unset ${NAME//pat/repl} is given back with both slashes
//    (upstream drops one, which changes its meaning when expanded later).
#pragma once

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontend/env_snapshot.h"

namespace kiln::frontend {

// Thrown for malformed words (unterminated quote, bad ${...} syntax, bad pattern) and for
// ${NAME?msg} / ${NAME:?msg} on an unset (or empty) variable. what() is the full message,
// e.g. `failed to process "${X?oops}": X: oops`.
class ExpansionError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The variables a word can see: an ordered list of (name, value) pairs. Names are
// case-sensitive. Invariant: each name appears at most once; set() replaces the value of an
// existing name in place, so iteration order is the order of first definition.
class Environment {
  public:
    Environment() = default;
    Environment(std::initializer_list<std::pair<std::string, std::string>> vars);

    // From "NAME=value" strings, as a process environment; an entry without `=` defines NAME
    // as the empty string. Later entries win.
    static Environment from_strings(const std::vector<std::string>& entries);

    void set(std::string name, std::string value);
    bool erase(std::string_view name);
    // nullopt when unset; a set-but-empty variable gives an empty string.
    std::optional<std::string_view> get(std::string_view name) const;

    const std::vector<std::pair<std::string, std::string>>& entries() const { return vars_; }
    bool empty() const { return vars_.empty(); }
    // entries() as they are now, in O(1); later set() and erase() calls leave it as it is.
    const EnvSnapshot& snapshot() const { return snapshot_; }

  private:
    std::vector<std::pair<std::string, std::string>> vars_;
    EnvSnapshot snapshot_;  // the same variables, kept as a persistent list
};

struct ShellLexOptions {
    // Keep quote characters in the output (their content is still treated as quoted).
    bool raw_quotes = false;
    // Keep escape characters in the output (the escaped character is still literal).
    bool raw_escapes = false;
    // Treat ' and " as ordinary characters.
    bool skip_process_quotes = false;
    // Leave references to unset variables as written ($X, ${X}, ${X:-w}, ...) instead of
    // expanding them, so they can be expanded later with a fuller environment.
    bool skip_unset_env = false;
};

struct ProcessWordResult {
    std::string result;               // the expanded word (process_word)
    std::vector<std::string> words;   // the expanded, split words (process_words)
    std::set<std::string> matched;    // names looked up and found set
    std::set<std::string> unmatched;  // names looked up and found unset
};

// Stateless apart from its configuration: the methods are const and safe to call from
// several threads at once.
class ShellLex {
  public:
    // escape must be '\\' or '`' (the Dockerfile `# escape=` directive); anything else throws
    // std::invalid_argument.
    explicit ShellLex(char escape = '\\', ShellLexOptions options = {});

    char escape() const { return escape_; }
    const ShellLexOptions& options() const { return options_; }

    // Expands and removes quotes/escapes; whitespace is kept, nothing is split.
    std::string process_word(std::string_view word, const Environment& env) const;

    // Expands, then splits like a shell: whitespace that is unquoted and unescaped in the
    // word, or that comes from an unquoted expansion, separates words; quoted whitespace does
    // not. Empty words are dropped (so `""` alone gives no word, as upstream).
    std::vector<std::string> process_words(std::string_view word, const Environment& env) const;

    // Both of the above in one pass, plus which names were looked up. As upstream, the word
    // of ${A:-w}, ${A:+w}, ... is always expanded before A is looked at, so names in w are
    // recorded (and errors in w raised) even when that branch is not taken.
    ProcessWordResult process_word_with_matches(std::string_view word,
                                                const Environment& env) const;

  private:
    char escape_;
    ShellLexOptions options_;
};

}  // namespace kiln::frontend
