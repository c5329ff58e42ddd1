#include "frontend/dockerignore.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "base/utf8.h"

namespace kiln::frontend {

namespace {

// A code point that keeps invalid bytes apart (utf8::distinct_code) so that literal and
// class matching stay exact, plus its width to step over it.
struct Rune {
    int32_t cp;
    size_t len;
};

Rune decode_rune(std::string_view s, size_t pos) {
    const utf8::Rune r = utf8::decode(s, pos);
    return Rune{utf8::distinct_code(s, pos, r), r.width};
}

std::vector<int32_t> decode_all(std::string_view s) {
    std::vector<int32_t> out;
    for (size_t pos = 0; pos < s.size();) {
        const Rune r = decode_rune(s, pos);
        out.push_back(r.cp);
        pos += r.len;
    }
    return out;
}

// False for the stand-ins for invalid bytes, which are outside Unicode.
bool is_space(int32_t cp) {
    return cp >= 0 && utf8::is_go_space(static_cast<char32_t>(cp));
}

// Go's strings.TrimSpace (Unicode white space, UTF-8 aware).
std::string_view trim_space(std::string_view s) {
    size_t b = 0;
    while (b < s.size()) {
        const Rune r = decode_rune(s, b);
        if (!is_space(r.cp)) {
            break;
        }
        b += r.len;
    }
    size_t e = s.size();
    while (e > b) {
        // Step back to the start of the last rune.
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
               e - start < 4) {
            --start;
        }
        const Rune r = decode_rune(s, start);
        if (start + r.len != e) {
            break;  // not a whole rune: invalid UTF-8 is never space
        }
        if (!is_space(r.cp)) {
            break;
        }
        e = start;
    }
    return s.substr(b, e - b);
}

// Go's path.Dir: everything before the last `/`, cleaned.
std::string dir_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return clean_path(slash == std::string_view::npos ? std::string_view()
                                                      : path.substr(0, slash + 1));
}

// Go's filepath.Match syntax check (the error half of it): `\` needs a following character;
// a class needs at least one item, items are a character or a range `lo-hi`, where an
// unescaped `-` or `]` cannot be an endpoint, and the class must be closed.
bool valid_glob_syntax(std::string_view p) {
    size_t i = 0;
    // One class endpoint: a character, or `\` and a character.
    auto endpoint = [&]() -> bool {
        if (i >= p.size() || p[i] == '-' || p[i] == ']') {
            return false;
        }
        if (p[i] == '\\') {
            ++i;
            if (i >= p.size()) {
                return false;
            }
        }
        const Rune r = decode_rune(p, i);
        if (r.cp >= utf8::kInvalidByteBase) {
            return false;
        }
        i += r.len;
        return i < p.size();  // a class must still be closed
    };
    while (i < p.size()) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size()) {
                return false;
            }
            i += 1 + decode_rune(p, i + 1).len;
        } else if (c == '[') {
            ++i;
            if (i < p.size() && p[i] == '^') {
                ++i;
            }
            int items = 0;
            while (true) {
                if (i < p.size() && p[i] == ']' && items > 0) {
                    ++i;
                    break;
                }
                if (!endpoint()) {
                    return false;
                }
                if (p[i] == '-') {
                    ++i;
                    if (!endpoint()) {
                        return false;
                    }
                }
                ++items;
            }
        } else {
            i += decode_rune(p, i).len;
        }
    }
    return true;
}

enum class Tok : uint8_t {
    kLiteral,     // one code point
    kAny,         // `?`: one character but `/`
    kStar,        // `*`: any run of characters without `/`
    kClass,       // `[...]`: one character (may be `/`, may be a newline when negated)
    kDStarSlash,  // `**` followed by more: empty, or characters (no newline) ending in `/`
    kDStarEnd,    // `**` at the end: any run of characters without a newline
};

struct ClassRange {
    int32_t lo, hi;
};

struct Token {
    Tok kind;
    int32_t cp = 0;
    bool negated = false;
    std::vector<ClassRange> ranges;
};

Token make_token(Tok kind, int32_t cp = 0) {
    Token t;
    t.kind = kind;
    t.cp = cp;
    return t;
}

bool class_matches(const Token& t, int32_t cp) {
    bool in = false;
    for (const ClassRange& r : t.ranges) {
        if (cp >= r.lo && cp <= r.hi) {
            in = true;
            break;
        }
    }
    return in != t.negated;
}

// The token program runs as an NFA over code points. A state is (token index, inside): the
// inside flag marks a `**/` that has consumed characters and so may only end at a `/`.
class Nfa {
  public:
    explicit Nfa(const std::vector<Token>& toks) : toks_(toks) { add(cur_, 0); }

    // Only the live states are visited: a step costs what is alive, not the pattern's
    // length (a pattern may be 64 KiB, and every path of the context is matched).
    void step(int32_t cp) {
        next_.clear();
        for (const uint32_t state : cur_) {
            const size_t idx = state / 2;
            const bool inside = (state & 1) != 0;
            if (idx == toks_.size()) {
                continue;  // accepting: nothing follows
            }
            const Token& t = toks_[idx];
            const uint32_t after = static_cast<uint32_t>(2 * (idx + 1));
            switch (t.kind) {
                case Tok::kLiteral:
                    if (!inside && cp == t.cp) {
                        add(next_, after);
                    }
                    break;
                case Tok::kAny:
                    if (!inside && cp != '/') {
                        add(next_, after);
                    }
                    break;
                case Tok::kClass:
                    if (!inside && class_matches(t, cp)) {
                        add(next_, after);
                    }
                    break;
                case Tok::kStar:
                    if (cp != '/') {
                        add(next_, state);
                    }
                    break;
                case Tok::kDStarEnd:
                    if (cp != '\n') {
                        add(next_, state);
                    }
                    break;
                case Tok::kDStarSlash:
                    if (cp != '\n') {
                        add(next_, static_cast<uint32_t>(2 * idx + 1));
                    }
                    if (cp == '/') {
                        add(next_, after);
                    }
                    break;
            }
        }
        std::sort(next_.begin(), next_.end());
        next_.erase(std::unique(next_.begin(), next_.end()), next_.end());
        cur_.swap(next_);
    }

    bool accepted() const {
        return std::binary_search(cur_.begin(), cur_.end(),
                                  static_cast<uint32_t>(2 * toks_.size()));
    }
    bool alive() const { return !cur_.empty(); }

  private:
    // Adds a state and what it reaches without a character: an outside state of a token
    // that may match nothing (`*`, `**`) also stands at the next token. Runs of such tokens
    // are at most three long (compile() merges repeated `**/`).
    void add(std::vector<uint32_t>& states, uint32_t state) const {
        states.push_back(state);
        while ((state & 1) == 0 && state / 2 < toks_.size()) {
            const Tok k = toks_[state / 2].kind;
            if (k != Tok::kStar && k != Tok::kDStarEnd && k != Tok::kDStarSlash) {
                break;
            }
            state += 2;
            states.push_back(state);
        }
    }

    // A state is 2 * token index + inside, where inside marks a `**/` that has consumed
    // characters and so may only end at a `/`. Sorted, without duplicates, after a step.
    const std::vector<Token>& toks_;
    std::vector<uint32_t> cur_;
    std::vector<uint32_t> next_;
};

std::string too_many_patterns() {
    return "more than " + std::to_string(PatternMatcher::kMaxPatterns) + " patterns";
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct PatternMatcher::Compiled {
    std::string text;
    bool exclusion = false;
    Kind kind = Kind::kExact;
    std::vector<Token> tokens;  // kRegex only
    std::string compile_error;  // non-empty: evaluating this pattern fails
    size_t min_chars = 0;       // kRegex: characters any match has at least (one per token
                                // that matches exactly one)

    // Classifies and compiles exactly as upstream does while turning the pattern into a
    // regexp, so that the same patterns take the exact/prefix/suffix shortcuts.
    void compile() {
        const std::string_view p = text;
        bool first = true;
        for (size_t i = 0; i < p.size(); first = false) {
            const Rune r = decode_rune(p, i);
            i += r.len;
            const int32_t ch = r.cp;
            if (ch == '*') {
                if (i < p.size() && p[i] == '*') {
                    ++i;
                    if (i < p.size() && p[i] == '/') {
                        ++i;  // `**/` is `**`
                    }
                    if (i >= p.size()) {
                        if (kind == Kind::kExact) {
                            kind = Kind::kPrefix;
                        } else {
                            tokens.push_back(make_token(Tok::kDStarEnd));
                            kind = Kind::kRegex;
                        }
                    } else {
                        tokens.push_back(make_token(Tok::kDStarSlash));
                        kind = Kind::kRegex;
                    }
                    if (first) {
                        kind = Kind::kSuffix;
                    }
                } else {
                    tokens.push_back(make_token(Tok::kStar));
                    kind = Kind::kRegex;
                }
            } else if (ch == '?') {
                tokens.push_back(make_token(Tok::kAny));
                kind = Kind::kRegex;
            } else if (ch == '\\') {
                if (i < p.size()) {
                    const Rune e = decode_rune(p, i);
                    i += e.len;
                    tokens.push_back(make_token(Tok::kLiteral, e.cp));
                    kind = Kind::kRegex;
                } else {
                    tokens.push_back(make_token(Tok::kLiteral, '\\'));
                }
            } else if (ch == '[') {
                i = compile_class(p, i);
                kind = Kind::kRegex;
            } else if (ch == ']') {
                tokens.push_back(make_token(Tok::kLiteral, ']'));
                kind = Kind::kRegex;
            } else {
                tokens.push_back(make_token(Tok::kLiteral, ch));
            }
        }
        if (kind != Kind::kRegex) {
            tokens.clear();
        }
        merge_double_stars();
        for (const Token& t : tokens) {
            if (t.kind == Tok::kLiteral || t.kind == Tok::kAny || t.kind == Tok::kClass) {
                ++min_chars;
            }
        }
    }

    // `**/**/` matches what `**/` does, and `**/` before a final `**` what `**` does; a
    // 64 KiB pattern of `**/` would otherwise make every step of the NFA walk all of it.
    void merge_double_stars() {
        std::vector<Token> merged;
        merged.reserve(tokens.size());
        for (Token& t : tokens) {
            if (!merged.empty() && merged.back().kind == Tok::kDStarSlash &&
                (t.kind == Tok::kDStarSlash || t.kind == Tok::kDStarEnd)) {
                merged.back() = std::move(t);
            } else {
                merged.push_back(std::move(t));
            }
        }
        tokens = std::move(merged);
    }

    // Precondition: the syntax check passed, so the class is well formed and closed.
    // Returns the index after the closing `]`.
    size_t compile_class(std::string_view p, size_t i) {
        Token t = make_token(Tok::kClass);
        if (p[i] == '^') {
            t.negated = true;
            ++i;
        }
        auto endpoint = [&] {
            if (p[i] == '\\') {
                ++i;
            }
            const Rune r = decode_rune(p, i);
            i += r.len;
            return r.cp;
        };
        while (!(p[i] == ']' && !t.ranges.empty())) {
            const int32_t lo = endpoint();
            int32_t hi = lo;
            if (p[i] == '-') {
                ++i;
                hi = endpoint();
            }
            if (hi < lo && compile_error.empty()) {
                // Go's regexp refuses what filepath.Match accepted.
                compile_error =
                    "syntax error in pattern " + text + ": invalid character class range";
            }
            t.ranges.push_back({lo, hi});
        }
        tokens.push_back(std::move(t));
        return i + 1;
    }

    bool match(std::string_view path) const {
        if (!compile_error.empty()) {
            throw PatternError(compile_error);
        }
        switch (kind) {
            case Kind::kExact:
                return path == text;
            case Kind::kPrefix:
                return starts_with(path, std::string_view(text).substr(0, text.size() - 2));
            case Kind::kSuffix: {
                const std::string_view suffix = std::string_view(text).substr(2);
                if (ends_with(path, suffix)) {
                    return true;
                }
                return suffix[0] == '/' && path == suffix.substr(1);
            }
            case Kind::kRegex: {
                if (path.size() < min_chars) {
                    return false;  // a character is at least one byte
                }
                Nfa nfa(tokens);
                for (int32_t cp : decode_all(path)) {
                    nfa.step(cp);
                    if (!nfa.alive()) {
                        return false;
                    }
                }
                return nfa.accepted();
            }
        }
        return false;
    }

    // Whether some string starting with `prefix` could match. Conservative (true) when
    // unsure.
    bool may_match_with_prefix(std::string_view prefix) const {
        if (!compile_error.empty()) {
            return true;
        }
        switch (kind) {
            case Kind::kExact:
                return starts_with(text, prefix);
            case Kind::kPrefix: {
                const std::string_view lit = std::string_view(text).substr(0, text.size() - 2);
                return starts_with(prefix, lit) || starts_with(lit, prefix);
            }
            case Kind::kSuffix:
                return true;
            case Kind::kRegex: {
                Nfa nfa(tokens);
                for (int32_t cp : decode_all(prefix)) {
                    nfa.step(cp);
                }
                return nfa.alive();
            }
        }
        return true;
    }
};

// ---- free functions ----

std::string clean_path(std::string_view path) {
    if (path.empty()) {
        return ".";
    }
    const bool rooted = path[0] == '/';
    const size_t n = path.size();
    std::string out;
    size_t r = 0;
    size_t dotdot = 0;  // out[0:dotdot] may not be backtracked over
    if (rooted) {
        out = "/";
        r = 1;
        dotdot = 1;
    }
    while (r < n) {
        if (path[r] == '/') {
            ++r;
        } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
            ++r;
        } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
            r += 2;
            if (out.size() > dotdot) {
                size_t w = out.size() - 1;
                while (w > dotdot && out[w] != '/') {
                    --w;
                }
                out.resize(w);
            } else if (!rooted) {
                if (!out.empty()) {
                    out += '/';
                }
                out += "..";
                dotdot = out.size();
            }
        } else {
            if ((rooted && out.size() != 1) || (!rooted && !out.empty())) {
                out += '/';
            }
            while (r < n && path[r] != '/') {
                out += path[r++];
            }
        }
    }
    return out.empty() ? "." : out;
}

std::vector<std::string> parse_dockerignore(std::string_view content) {
    std::vector<std::string> out;
    if (starts_with(content, "\xEF\xBB\xBF")) {
        content.remove_prefix(3);
    }
    size_t pos = 0;
    while (pos < content.size()) {
        size_t nl = content.find('\n', pos);
        if (nl == std::string_view::npos) {
            nl = content.size();
        }
        std::string_view line = content.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (starts_with(line, "#")) {
            continue;
        }
        std::string_view pattern = trim_space(line);
        if (pattern.empty()) {
            continue;
        }
        if (out.size() == PatternMatcher::kMaxPatterns) {
            throw PatternError(too_many_patterns());
        }
        const bool invert = pattern[0] == '!';
        if (invert) {
            pattern = trim_space(pattern.substr(1));
        }
        std::string cleaned;
        if (!pattern.empty()) {
            cleaned = clean_path(pattern);
            if (cleaned.size() > 1 && cleaned[0] == '/') {
                cleaned.erase(0, 1);
            }
        }
        out.push_back(invert ? "!" + cleaned : cleaned);
    }
    return out;
}

// ---- PatternMatcher ----

PatternMatcher::PatternMatcher(const std::vector<std::string>& patterns) {
    size_t total_bytes = 0;
    for (const std::string& raw : patterns) {
        const std::string_view trimmed = trim_space(raw);
        if (trimmed.empty()) {
            continue;
        }
        if (compiled_.size() == kMaxPatterns) {
            throw PatternError(too_many_patterns());
        }
        if (trimmed.size() > kMaxPatternSize) {
            // Docker's reader stops at a longer line (bufio.Scanner: token too long); a
            // pattern of megabytes would cost that much for every path of the context.
            throw PatternError("pattern longer than " + std::to_string(kMaxPatternSize) +
                               " bytes: " + std::string(trimmed.substr(0, 60)) + "...");
        }
        total_bytes += trimmed.size();
        if (total_bytes > kMaxPatternBytes) {
            throw PatternError("patterns longer than " + std::to_string(kMaxPatternBytes) +
                               " bytes in all");
        }
        std::string p = clean_path(trimmed);
        Compiled c;
        if (p[0] == '!') {
            if (p.size() == 1) {
                throw PatternError("illegal exclusion pattern: \"!\"");
            }
            c.exclusion = true;
            has_exclusions_ = true;
            p.erase(0, 1);
        }
        if (!valid_glob_syntax(p)) {
            throw PatternError("syntax error in pattern: " +
                               (p.size() > 200 ? p.substr(0, 200) + "..." : p));
        }
        c.text = std::move(p);
        c.compile();
        compiled_.push_back(std::move(c));
    }
}

PatternMatcher::~PatternMatcher() = default;
PatternMatcher::PatternMatcher(PatternMatcher&&) noexcept = default;
PatternMatcher& PatternMatcher::operator=(PatternMatcher&&) noexcept = default;
PatternMatcher::PatternMatcher(const PatternMatcher&) = default;
PatternMatcher& PatternMatcher::operator=(const PatternMatcher&) = default;

bool PatternMatcher::empty() const {
    return compiled_.empty();
}

std::vector<PatternMatcher::Pattern> PatternMatcher::patterns() const {
    std::vector<Pattern> out;
    for (const Compiled& c : compiled_) {
        out.push_back({c.text, c.exclusion});
    }
    return out;
}

PatternMatcher::Kind PatternMatcher::kind(size_t index) const {
    return compiled_.at(index).kind;
}

namespace {

// Calls fn on each ancestor of `path` from the top down ("a", "a/b" for "a/b/c"), as
// upstream derives them from Go's path.Dir; stops early when fn returns true.
template <typename Fn>
bool any_ancestor(std::string_view path, Fn&& fn) {
    const std::string parent = dir_of(path);
    if (parent == ".") {
        return false;
    }
    size_t pos = 0;
    while (true) {
        const size_t slash = parent.find('/', pos);
        const std::string_view prefix =
            std::string_view(parent).substr(0, slash == std::string::npos ? parent.size() : slash);
        if (fn(prefix)) {
            return true;
        }
        if (slash == std::string::npos) {
            return false;
        }
        pos = slash + 1;
    }
}

}  // namespace

bool PatternMatcher::matches(std::string_view path) const {
    bool matched = false;
    for (const Compiled& c : compiled_) {
        // An inclusion can only change an unmatched path, an exclusion a matched one.
        if (c.exclusion != matched) {
            continue;
        }
        bool m = c.match(path);
        if (!m) {
            m = any_ancestor(path, [&](std::string_view a) { return c.match(a); });
        }
        if (m) {
            matched = !c.exclusion;
        }
    }
    return matched;
}

bool PatternMatcher::matches_using_parent_results(std::string_view path, const MatchInfo& parent,
                                                  MatchInfo* info) const {
    const bool have_parent = !parent.parent_matched.empty();
    if (have_parent && parent.parent_matched.size() != compiled_.size()) {
        throw std::invalid_argument("MatchInfo from a different pattern list");
    }
    MatchInfo mine;
    mine.parent_matched.assign(compiled_.size(), false);
    bool matched = false;
    for (size_t i = 0; i < compiled_.size(); ++i) {
        const Compiled& c = compiled_[i];
        bool m = have_parent && parent.parent_matched[i];
        if (!m) {
            if (c.exclusion != matched) {
                continue;
            }
            m = c.match(path);
            if (!m && !have_parent) {
                m = any_ancestor(path, [&](std::string_view a) { return c.match(a); });
            }
        }
        mine.parent_matched[i] = m;
        if (m) {
            matched = !c.exclusion;
        }
    }
    if (info != nullptr) {
        *info = std::move(mine);
    }
    return matched;
}

// If no exclusion can match anything at or below `dir/`, every descendant sees the same
// exclusion results as `dir` and at least its inclusion results, so (by induction over the
// pattern list) it is ignored whenever `dir` is.
bool PatternMatcher::may_reinclude_under(std::string_view dir) const {
    const std::string prefix = std::string(dir) + "/";
    for (const Compiled& c : compiled_) {
        if (c.exclusion && c.may_match_with_prefix(prefix)) {
            return true;
        }
    }
    return false;
}

bool matches_or_parent_matches(std::string_view path, const std::vector<std::string>& patterns) {
    const PatternMatcher pm(patterns);
    const std::string file = clean_path(path);
    if (file == ".") {
        return false;  // the context root is never ignored
    }
    return pm.matches(file);
}

std::optional<std::string> choose_dockerignore(
    std::string_view dockerfile_path, std::string_view context_dir,
    const std::function<bool(const std::string& path)>& exists) {
    if (!dockerfile_path.empty() && dockerfile_path != "-") {
        std::string own = std::string(dockerfile_path) + ".dockerignore";
        if (exists(own)) {
            return own;
        }
    }
    std::string shared(context_dir);
    if (!shared.empty() && shared.back() != '/') {
        shared += '/';
    }
    shared += ".dockerignore";
    if (exists(shared)) {
        return shared;
    }
    return std::nullopt;
}

}  // namespace kiln::frontend
