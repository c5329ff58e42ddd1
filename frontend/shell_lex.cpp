#include "frontend/shell_lex.h"

#include <algorithm>
#include <cstdint>
#include <functional>

#include "base/go_quote.h"
#include "base/utf8.h"

namespace kiln::frontend {

namespace {

constexpr int32_t kEof = -1;

// Patterns compare code points but words are rebuilt from the original bytes, so a rune
// keeps both; invalid bytes get distinct stand-ins (utf8::distinct_code), not U+FFFD.
struct Rune {
    int32_t cp;
    std::string_view bytes;
};

Rune decode_rune(std::string_view s, size_t pos) {
    const utf8::Rune r = utf8::decode(s, pos);
    return Rune{utf8::distinct_code(s, pos, r), s.substr(pos, r.width)};
}

std::vector<Rune> decode_all(std::string_view s) {
    std::vector<Rune> out;
    for (size_t pos = 0; pos < s.size();) {
        Rune r = decode_rune(s, pos);
        pos += r.bytes.size();
        out.push_back(r);
    }
    return out;
}

// Also false for kEof and the stand-ins for invalid bytes, which are outside Unicode.
bool is_space(int32_t cp) {
    return cp >= 0 && utf8::is_go_space(static_cast<char32_t>(cp));
}

bool is_ascii_digit(int32_t cp) {
    return cp >= '0' && cp <= '9';
}

bool is_name_char(int32_t cp) {
    if (cp < 0x80) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || is_ascii_digit(cp) ||
               cp == '_';
    }
    return cp < utf8::kInvalidByteBase && !is_space(cp);
}

bool is_special_param(int32_t cp) {
    switch (cp) {
        case '@':
        case '*':
        case '#':
        case '?':
        case '-':
        case '$':
        case '!':
        case '0':
            return true;
        default:
            return false;
    }
}

// Internal errors carry the bare message; the public entry points wrap it with the word.
struct LexFailure {
    std::string message;
};

[[noreturn]] void fail(std::string message) {
    throw LexFailure{std::move(message)};
}

class Scanner {
  public:
    explicit Scanner(std::string_view s) : s_(s) {}
    int32_t peek() const { return pos_ < s_.size() ? decode_rune(s_, pos_).cp : kEof; }
    // Precondition: not at the end.
    Rune next() {
        Rune r = decode_rune(s_, pos_);
        pos_ += r.bytes.size();
        return r;
    }
    bool at_end() const { return pos_ >= s_.size(); }

  private:
    std::string_view s_;
    size_t pos_ = 0;
};

// Accumulates shell-split words. `in_word` becomes true as soon as anything, even an empty
// quoted string, is added, but an empty word is never emitted (upstream's rule).
class WordSplitter {
  public:
    void add_char(const Rune& r) {
        if (is_space(r.cp)) {
            if (in_word_ && !word_.empty()) {
                words_.push_back(std::move(word_));
                word_.clear();
                in_word_ = false;
            }
        } else {
            add_raw(r.bytes);
        }
    }
    void add_raw(std::string_view s) {
        word_ += s;
        in_word_ = true;
    }
    void add_expanded(std::string_view s) {
        for (const Rune& r : decode_all(s)) {
            add_char(r);
        }
    }
    std::vector<std::string> finish() {
        if (!word_.empty()) {
            words_.push_back(std::move(word_));
            word_.clear();
            in_word_ = false;
        }
        return std::move(words_);
    }

  private:
    std::string word_;
    std::vector<std::string> words_;
    bool in_word_ = false;
};

// ---- Shell patterns for ${VAR#pat}, ${VAR%pat} and ${VAR/pat/repl} ----
//
// Upstream turns the pattern into a Go regexp (`*` → `.*` or `.*?`, `?` → `.`) and uses
// leftmost-first matching; this is the same semantics done by hand: `.` in Go matches any
// character except newline.

struct PatToken {
    enum Kind { kLiteral, kAny, kStar } kind;
    int32_t cp = 0;
};

std::vector<PatToken> compile_shell_pattern(const std::vector<Rune>& pat) {
    std::vector<PatToken> out;
    for (size_t i = 0; i < pat.size(); ++i) {
        const int32_t c = pat[i].cp;
        if (c == '*') {
            out.push_back({PatToken::kStar});
        } else if (c == '?') {
            out.push_back({PatToken::kAny});
        } else if (c == '\\') {
            // `\}` and `\/` only protect the ${} syntax; the backslash is not part of the
            // pattern.
            if (i + 1 < pat.size() && (pat[i + 1].cp == '}' || pat[i + 1].cp == '/')) {
                continue;
            }
            if (i + 1 >= pat.size()) {
                fail("invalid escape '\\' at end of pattern");
            }
            const int32_t e = pat[++i].cp;
            if (e != '*' && e != '?' && e != '\\') {
                fail("invalid escape '\\" + std::string(pat[i].bytes) + "'");
            }
            out.push_back({PatToken::kLiteral, e});
        } else {
            out.push_back({PatToken::kLiteral, c});
        }
    }
    return out;
}

// Leftmost-first (Perl-style) matcher: a star tries its longest (greedy) or shortest (lazy)
// extent first, and the first complete match in that order wins. Memoised on
// (token, position), so the cost is bounded by tokens × length².
class PatternSearch {
  public:
    PatternSearch(const std::vector<PatToken>& toks, const std::vector<Rune>& text, bool greedy)
        : toks_(toks), text_(text), greedy_(greedy), memo_((toks.size() + 1) * (text.size() + 1)) {}

    // End (in runes) of the preferred match that starts at `start`, if any.
    std::optional<size_t> match_at(size_t start) { return match(0, start); }

  private:
    std::optional<size_t> match(size_t ti, size_t si) {
        if (ti == toks_.size()) {
            return si;  // unanchored at the end
        }
        auto& slot = memo_[ti * (text_.size() + 1) + si];
        if (slot.has_value()) {
            return *slot;
        }
        std::optional<size_t> result;
        const PatToken& t = toks_[ti];
        switch (t.kind) {
            case PatToken::kLiteral:
                if (si < text_.size() && text_[si].cp == t.cp) {
                    result = match(ti + 1, si + 1);
                }
                break;
            case PatToken::kAny:
                if (si < text_.size() && text_[si].cp != '\n') {
                    result = match(ti + 1, si + 1);
                }
                break;
            case PatToken::kStar: {
                size_t max = si;
                while (max < text_.size() && text_[max].cp != '\n') {
                    ++max;
                }
                if (greedy_) {
                    for (size_t e = max + 1; e-- > si && !result;) {
                        result = match(ti + 1, e);
                    }
                } else {
                    for (size_t e = si; e <= max && !result; ++e) {
                        result = match(ti + 1, e);
                    }
                }
                break;
            }
        }
        slot = result;
        return result;
    }

    const std::vector<PatToken>& toks_;
    const std::vector<Rune>& text_;
    bool greedy_;
    std::vector<std::optional<std::optional<size_t>>> memo_;
};

std::string join_runes(const std::vector<Rune>& runes, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) {
        out += runes[i].bytes;
    }
    return out;
}

// ${VAR#pat} / ${VAR##pat}: drop the preferred match anchored at the start.
std::string trim_prefix(const std::vector<Rune>& pattern, std::string_view value, bool greedy) {
    const auto toks = compile_shell_pattern(pattern);
    const auto text = decode_all(value);
    PatternSearch search(toks, text, greedy);
    const auto end = search.match_at(0);
    return end ? join_runes(text, *end, text.size()) : std::string(value);
}

// ${VAR%pat} / ${VAR%%pat}: a leftmost matcher cannot find the shortest rightmost match, so
// (as upstream) reverse both the value and the pattern (keeping each `\x` pair in order)
// and trim a prefix instead.
std::string trim_suffix(const std::vector<Rune>& pattern, std::string_view value, bool greedy) {
    std::vector<Rune> rev_pat(pattern.size());
    const size_t last = pattern.size() == 0 ? 0 : pattern.size() - 1;
    for (size_t i = 0; i < pattern.size();) {
        const size_t out = last - i;
        if (pattern[i].cp == '\\' && i != last) {
            rev_pat[out - 1] = pattern[i];
            rev_pat[out] = pattern[i + 1];
            i += 2;
        } else {
            rev_pat[out] = pattern[i];
            ++i;
        }
    }
    const auto toks = compile_shell_pattern(rev_pat);
    auto text = decode_all(value);
    std::reverse(text.begin(), text.end());
    PatternSearch search(toks, text, greedy);
    const auto end = search.match_at(0);
    if (!end) {
        return std::string(value);
    }
    // The reversed text minus its first *end runes is the original minus its last *end.
    std::reverse(text.begin(), text.end());
    return join_runes(text, 0, text.size() - *end);
}

// Go's Regexp.Expand for a regexp without groups: `$$` is `$`, `$0`/`${0}` the match, any
// other `$name` empty, a malformed `$` literal. Upstream passes the replacement through
// it, so we do too.
std::string expand_replacement(std::string_view tmpl, std::string_view match) {
    std::string out;
    size_t i = 0;
    while (i < tmpl.size()) {
        const size_t dollar = tmpl.find('$', i);
        if (dollar == std::string_view::npos) {
            out += tmpl.substr(i);
            break;
        }
        out += tmpl.substr(i, dollar - i);
        i = dollar + 1;
        if (i < tmpl.size() && tmpl[i] == '$') {
            out += '$';
            ++i;
            continue;
        }
        size_t j = i;
        const bool brace = j < tmpl.size() && tmpl[j] == '{';
        if (brace) {
            ++j;
        }
        const size_t name_start = j;
        while (j < tmpl.size()) {
            const Rune r = decode_rune(tmpl, j);
            if (!is_name_char(r.cp)) {
                break;
            }
            j += r.bytes.size();
        }
        const std::string_view name = tmpl.substr(name_start, j - name_start);
        if (name.empty() || (brace && (j >= tmpl.size() || tmpl[j] != '}'))) {
            out += '$';
            continue;
        }
        if (brace) {
            ++j;
        }
        i = j;
        const bool numeric = name.size() < 9 && std::all_of(name.begin(), name.end(), [](char c) {
                                 return c >= '0' && c <= '9';
                             });
        if (numeric && std::stoi(std::string(name)) == 0) {
            out += match;
        }
    }
    return out;
}

std::string replace_pattern(const std::vector<Rune>& pattern, std::string_view repl,
                            std::string_view value, bool all) {
    const auto toks = compile_shell_pattern(pattern);
    const auto text = decode_all(value);
    PatternSearch search(toks, text, /*greedy=*/true);
    auto find_from = [&](size_t from) -> std::optional<std::pair<size_t, size_t>> {
        for (size_t s = from; s <= text.size(); ++s) {
            if (auto e = search.match_at(s)) {
                return std::pair{s, *e};
            }
        }
        return std::nullopt;
    };
    if (!all) {
        const auto m = find_from(0);
        if (!m) {
            return std::string(value);
        }
        return join_runes(text, 0, m->first) +
               expand_replacement(repl, join_runes(text, m->first, m->second)) +
               join_runes(text, m->second, text.size());
    }
    // Go's ReplaceAll: successive non-overlapping matches; an empty match right after a
    // previous match is not replaced; always advance by at least one character.
    std::string out;
    size_t last_end = 0;
    size_t search_pos = 0;
    while (search_pos <= text.size()) {
        const auto m = find_from(search_pos);
        if (!m) {
            break;
        }
        const auto [a, b] = *m;
        out += join_runes(text, last_end, a);
        if (b > last_end || a == 0) {
            out += expand_replacement(repl, join_runes(text, a, b));
        }
        last_end = b;
        const size_t width = search_pos < text.size() ? 1 : 0;
        if (search_pos + width > b) {
            search_pos += width;
        } else if (search_pos + 1 > b) {
            ++search_pos;
        } else {
            search_pos = b;
        }
    }
    out += join_runes(text, last_end, text.size());
    return out;
}

// ---- The word processor ----

class WordProcessor {
  public:
    WordProcessor(std::string_view word, const Environment& env, char escape,
                  const ShellLexOptions& opts, ProcessWordResult& result)
        : scanner_(word),
          env_(env),
          escape_(static_cast<unsigned char>(escape)),
          opts_(opts),
          raw_escapes_(opts.raw_escapes),
          result_(result) {}

    void run() {
        auto [text, words] = process_until(kEof, opts_.raw_escapes);
        result_.result = std::move(text);
        result_.words = std::move(words);
    }

  private:
    struct Output {
        std::string text;
        std::vector<std::string> words;
    };

    // Processes up to (and consuming) `stop`, or to the end of the word when stop is kEof.
    Output process_until(int32_t stop, bool raw_escapes) {
        const bool saved_raw = raw_escapes_;
        raw_escapes_ = raw_escapes;
        std::string text;
        WordSplitter words;
        bool stopped = stop == kEof;
        while (!scanner_.at_end()) {
            const int32_t ch = scanner_.peek();
            if (stop != kEof && ch == stop) {
                scanner_.next();
                stopped = true;
                break;
            }
            if (ch == '$') {
                const std::string value = process_dollar();
                text += value;
                words.add_expanded(value);
                continue;
            }
            if (!opts_.skip_process_quotes && (ch == '\'' || ch == '"')) {
                const std::string value =
                    ch == '\'' ? process_single_quote() : process_double_quote();
                text += value;
                words.add_raw(value);
                continue;
            }
            Rune r = scanner_.next();
            if (r.cp == escape_) {
                if (raw_escapes_) {
                    words.add_raw(r.bytes);
                    text += r.bytes;
                }
                // An escape at the very end is dropped.
                if (scanner_.at_end()) {
                    break;
                }
                r = scanner_.next();
                words.add_raw(r.bytes);
            } else {
                words.add_char(r);
            }
            text += r.bytes;
        }
        raw_escapes_ = saved_raw;
        if (!stopped) {
            fail("unexpected end of statement while looking for matching " +
                 std::string(1, static_cast<char>(stop)));
        }
        return Output{std::move(text), words.finish()};
    }

    std::string process_single_quote() {
        std::string out;
        const Rune open = scanner_.next();
        if (opts_.raw_quotes) {
            out += open.bytes;
        }
        while (true) {
            if (scanner_.at_end()) {
                fail("unexpected end of statement while looking for matching single-quote");
            }
            const Rune r = scanner_.next();
            if (r.cp == '\'') {
                if (opts_.raw_quotes) {
                    out += r.bytes;
                }
                return out;
            }
            out += r.bytes;
        }
    }

    // Inside "...", the escape character quotes only `"`, `$` and itself; before anything
    // else it is kept. With raw escapes it is written once more before such a character,
    // which is what makes "\x" come out as a literal backslash in a ${VAR#pattern}.
    std::string process_double_quote() {
        std::string out;
        const Rune open = scanner_.next();
        if (opts_.raw_quotes) {
            out += open.bytes;
        }
        while (true) {
            if (scanner_.at_end()) {
                fail("unexpected end of statement while looking for matching double-quote");
            }
            const int32_t ch = scanner_.peek();
            if (ch == '"') {
                const Rune close = scanner_.next();
                if (opts_.raw_quotes) {
                    out += close.bytes;
                }
                return out;
            }
            if (ch == '$') {
                out += process_dollar();
                continue;
            }
            Rune r = scanner_.next();
            if (r.cp == escape_) {
                if (raw_escapes_) {
                    out += r.bytes;
                }
                if (scanner_.at_end()) {
                    continue;  // reported as the missing closing quote
                }
                const int32_t nx = scanner_.peek();
                if (nx == '"' || nx == '$' || nx == escape_) {
                    r = scanner_.next();
                }
            }
            out += r.bytes;
        }
    }

    std::optional<std::string> lookup(const std::string& name) {
        if (auto v = env_.get(name)) {
            result_.matched.insert(name);
            return std::string(*v);
        }
        result_.unmatched.insert(name);
        return std::nullopt;
    }

    std::string process_dollar() {
        scanner_.next();  // '$'
        if (scanner_.peek() != '{') {
            const std::string name = process_name();
            if (name.empty()) {
                return "$";
            }
            auto value = lookup(name);
            if (!value && opts_.skip_unset_env) {
                return "$" + name;
            }
            return value.value_or("");
        }
        scanner_.next();  // '{'
        switch (scanner_.peek()) {
            case kEof:
                fail("syntax error: missing '}'");
            case '{':
            case '}':
            case ':':
                fail("syntax error: bad substitution");
            default:
                break;
        }
        const std::string name = process_name();
        if (scanner_.at_end()) {
            fail("syntax error: missing '}'");
        }
        Rune op = scanner_.next();
        std::string ops(op.bytes);
        bool null_is_unset = false;

        if (op.cp == '}') {
            auto value = lookup(name);
            if (!value && opts_.skip_unset_env) {
                return "${" + name + "}";
            }
            return value.value_or("");
        }
        if (op.cp == ':') {
            null_is_unset = true;
            if (scanner_.at_end()) {
                fail("syntax error: missing '}'");
            }
            op = scanner_.next();
            ops += op.bytes;
        } else if (op.cp == '/') {
            return process_replace(name);
        } else if (op.cp != '+' && op.cp != '-' && op.cp != '?' && op.cp != '#' && op.cp != '%') {
            fail("unsupported modifier (" + ops + ") in substitution");
        }

        // After `:` the operator is checked only once the word is expanded (so ${X:=w} without
        // its `}` reports the missing `}`), as upstream.
        const bool pattern_op = op.cp == '#' || op.cp == '%';
        if (null_is_unset && pattern_op) {
            fail("unsupported modifier (" + ops + ") in substitution");
        }
        std::string word = process_nested('}', pattern_op, "syntax error: missing '}'");
        auto value = lookup(name);
        if (!value && opts_.skip_unset_env) {
            return "${" + name + ops + word + "}";
        }
        const bool set = value.has_value();
        const bool empty_or_unset = !set || (null_is_unset && value->empty());
        switch (op.cp) {
            case '-':
                return empty_or_unset ? word : *value;
            case '+':
                return empty_or_unset ? std::string() : word;
            case '?':
                if (!set) {
                    fail(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
                }
                if (null_is_unset && value->empty()) {
                    fail(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
                }
                return *value;
            case '#':
            case '%': {
                // A doubled operator (## or %%) asks for the longest match.
                bool greedy = false;
                if (!word.empty() && static_cast<unsigned char>(word[0]) == op.cp) {
                    greedy = true;
                    word.erase(0, 1);
                }
                const auto pattern = decode_all(word);
                // An unset variable trims as the empty string, as upstream.
                const std::string subject = value.value_or("");
                try {
                    return op.cp == '%' ? trim_suffix(pattern, subject, greedy)
                                        : trim_prefix(pattern, subject, greedy);
                } catch (const LexFailure& e) {
                    fail("invalid pattern (" + word + ") in substitution: " + e.message);
                }
            }
            default:
                fail("unsupported modifier (" + ops + ") in substitution");
        }
    }

    std::string process_replace(const std::string& name) {
        const bool all = scanner_.peek() == '/';
        if (all) {
            scanner_.next();
        }
        const std::string pattern = process_nested('/', true, "syntax error: missing '/' in ${}");
        const std::string repl = process_nested('}', true, "syntax error: missing '}'");
        auto value = lookup(name);
        if (!value && opts_.skip_unset_env) {
            return "${" + name + (all ? "//" : "/") + pattern + "/" + repl + "}";
        }
        try {
            return replace_pattern(decode_all(pattern), repl, value.value_or(""), all);
        } catch (const LexFailure& e) {
            fail("invalid pattern (" + pattern + ") in substitution: " + e.message);
        }
    }

    // A nested word that runs out of input reports `eof_message` (the missing delimiter);
    // other errors pass through.
    std::string process_nested(int32_t stop, bool raw_escapes, const char* eof_message) {
        try {
            return process_until(stop, raw_escapes).text;
        } catch (const LexFailure&) {
            if (scanner_.at_end()) {
                fail(eof_message);
            }
            throw;
        }
    }

    // A name: letters, digits and `_`; or a run of digits (positional parameter); or one
    // special-parameter character.
    std::string process_name() {
        std::string name;
        while (!scanner_.at_end()) {
            const int32_t ch = scanner_.peek();
            if (name.empty() && is_ascii_digit(ch)) {
                while (!scanner_.at_end() && is_ascii_digit(scanner_.peek())) {
                    name += scanner_.next().bytes;
                }
                return name;
            }
            if (name.empty() && is_special_param(ch)) {
                return std::string(scanner_.next().bytes);
            }
            if (!is_name_char(ch)) {
                break;
            }
            name += scanner_.next().bytes;
        }
        return name;
    }

    Scanner scanner_;
    const Environment& env_;
    int32_t escape_;
    const ShellLexOptions& opts_;
    bool raw_escapes_;
    ProcessWordResult& result_;
};

}  // namespace

// ---- Environment ----

Environment::Environment(std::initializer_list<std::pair<std::string, std::string>> vars) {
    for (const auto& [k, v] : vars) {
        set(k, v);
    }
}

Environment Environment::from_strings(const std::vector<std::string>& entries) {
    Environment env;
    for (const std::string& e : entries) {
        const size_t eq = e.find('=');
        if (eq == std::string::npos) {
            env.set(e, "");
        } else {
            env.set(e.substr(0, eq), e.substr(eq + 1));
        }
    }
    return env;
}

void Environment::set(std::string name, std::string value) {
    snapshot_ = snapshot_.with_set(name, value);
    for (auto& [k, v] : vars_) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars_.emplace_back(std::move(name), std::move(value));
}

bool Environment::erase(std::string_view name) {
    const auto it =
        std::find_if(vars_.begin(), vars_.end(), [&](const auto& kv) { return kv.first == name; });
    if (it == vars_.end()) {
        return false;
    }
    vars_.erase(it);
    snapshot_ = snapshot_.with_erased(std::string(name));
    return true;
}

std::optional<std::string_view> Environment::get(std::string_view name) const {
    for (const auto& [k, v] : vars_) {
        if (k == name) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

// ---- ShellLex ----

ShellLex::ShellLex(char escape, ShellLexOptions options) : escape_(escape), options_(options) {
    if (escape != '\\' && escape != '`') {
        throw std::invalid_argument("invalid escape character '" + std::string(1, escape) +
                                    "': must be \\ or `");
    }
}

ProcessWordResult ShellLex::process_word_with_matches(std::string_view word,
                                                      const Environment& env) const {
    ProcessWordResult result;
    try {
        WordProcessor(word, env, escape_, options_, result).run();
    } catch (const LexFailure& e) {
        throw ExpansionError("failed to process " + go_quote(word) + ": " + e.message);
    }
    return result;
}

std::string ShellLex::process_word(std::string_view word, const Environment& env) const {
    return process_word_with_matches(word, env).result;
}

std::vector<std::string> ShellLex::process_words(std::string_view word,
                                                 const Environment& env) const {
    return process_word_with_matches(word, env).words;
}

}  // namespace kiln::frontend
