#include "frontend/parser.h"

#include "frontend/ascii.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/edit_distance.h"
#include "base/go_quote.h"
#include "base/utf8.h"

namespace kiln::frontend {
namespace {

// A parse problem found by a helper that does not know where it is; the main loop adds the
// file and line range.
struct Failure {
    std::string message;
};

// ---- UTF-8 and Go's whitespace notions -------------------------------------------------

using utf8::decode;
using utf8::Rune;

// Upstream tests bytes with unicode.IsSpace(rune(b)) in the flag and HEALTHCHECK splitters;
// for 0x85/0xA0 that would cut UTF-8 sequences apart, so only ASCII whitespace counts here.
bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The [\t\v\f\r ] class upstream uses to split keywords and whitespace-delimited arguments.
bool is_split_space(char c) {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

std::string_view trim_left_space(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        Rune r = decode(s, i);
        if (!r.ok || !utf8::is_go_space(r.value)) {
            break;
        }
        i += r.width;
    }
    return s.substr(i);
}

// strings.TrimSpace
std::string_view trim_space(std::string_view s) {
    s = trim_left_space(s);
    size_t end = 0;
    for (size_t i = 0; i < s.size();) {
        Rune r = decode(s, i);
        i += r.width;
        if (!r.ok || !utf8::is_go_space(r.value)) {
            end = i;
        }
    }
    return s.substr(0, end);
}

std::string_view trim_newline(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

bool is_comment(std::string_view raw_line) {
    std::string_view t = trim_left_space(trim_newline(raw_line));
    return !t.empty() && t.front() == '#';
}

// ---- directives -------------------------------------------------------------------------

bool is_directive_space(char c) {  // RE2's \s
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Matches `#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` with upstream's regexp preferences.
std::optional<std::pair<std::string, std::string>> match_directive(std::string_view line) {
    if (line.empty() || line[0] != '#') {
        return std::nullopt;
    }
    size_t i = 1;
    while (i < line.size() && is_directive_space(line[i])) {
        ++i;
    }
    if (i >= line.size() || !is_alpha(line[i])) {
        return std::nullopt;
    }
    size_t name_start = i;
    while (i < line.size() && (is_alpha(line[i]) || is_digit(line[i]))) {
        ++i;
    }
    std::string name(line.substr(name_start, i - name_start));
    while (i < line.size() && is_directive_space(line[i])) {
        ++i;
    }
    if (i >= line.size() || line[i] != '=') {
        return std::nullopt;
    }
    std::string_view rest = line.substr(i + 1);
    if (rest.empty() || rest.find('\n') != std::string_view::npos) {
        return std::nullopt;
    }
    // The greedy leading \s* must leave one character for the value; the lazy value stops
    // before trailing \s, but keeps at least that one character.
    size_t lead = 0;
    while (lead + 1 < rest.size() && is_directive_space(rest[lead])) {
        ++lead;
    }
    std::string_view value = rest.substr(lead);
    while (value.size() > 1 && is_directive_space(value.back())) {
        value.remove_suffix(1);
    }
    return std::make_pair(ascii_lower(name), std::string(value));
}

class Directives {
  public:
    char escape() const { return escape_; }
    const std::map<std::string, std::string>& values() const { return values_; }

    // Looks at one line (newline removed; left-trimmed when it starts an instruction). Only an
    // unbroken run of directive lines at the top of the file counts.
    void observe(std::string_view line) {
        if (done_) {
            return;
        }
        auto m = match_directive(line);
        if (!m || (m->first != "syntax" && m->first != "escape" && m->first != "check")) {
            done_ = true;
            return;
        }
        if (values_.count(m->first)) {
            throw Failure{"only one " + m->first + " parser directive can be used"};
        }
        values_[m->first] = m->second;
        if (m->first == "escape") {
            if (m->second != "\\" && m->second != "`") {
                throw Failure{"invalid escape token '" + m->second + "' does not match ` or \\"};
            }
            escape_ = m->second[0];
        }
    }

  private:
    bool done_ = false;
    char escape_ = '\\';
    std::map<std::string, std::string> values_;
};

// Upstream: `([^E])E[ \t]*$|^E[ \t]*$` replaced by $1. A doubled escape at the end is an
// escaped escape character, not a continuation (three in a row is misread upstream too).
std::pair<std::string_view, bool> trim_continuation(std::string_view line, char escape) {
    size_t i = line.find_last_not_of(" \t");
    if (i == std::string_view::npos || line[i] != escape) {
        return {line, true};
    }
    if (i == 0) {
        return {std::string_view{}, false};
    }
    if (line[i - 1] == escape) {
        return {line, true};
    }
    return {line.substr(0, i), false};
}

// ---- JSON (exec form) ------------------------------------------------------------------

// Just enough JSON to decode the first value of the text the way Go's json.Decoder does:
// trailing text after the array is ignored, strings are decoded (invalid UTF-8 and lone
// surrogates become U+FFFD), other value types are validated but only reported as
// "not a string".
class JsonArrayReader {
  public:
    explicit JsonArrayReader(std::string_view s) : s_(s) {}

    enum class Result { kStrings, kNotStrings, kSyntaxError };

    Result read(std::vector<std::string>& out) {
        skip_ws();
        if (!eat('[')) {
            return Result::kSyntaxError;
        }
        bool all_strings = true;
        skip_ws();
        if (eat(']')) {
            return Result::kStrings;
        }
        while (true) {
            skip_ws();
            if (peek() == '"') {
                std::string str;
                if (!read_string(&str)) {
                    return Result::kSyntaxError;
                }
                out.push_back(std::move(str));
            } else {
                all_strings = false;
                if (!skip_value(0)) {
                    return Result::kSyntaxError;
                }
            }
            skip_ws();
            if (eat(',')) {
                continue;
            }
            if (eat(']')) {
                break;
            }
            return Result::kSyntaxError;
        }
        return all_strings ? Result::kStrings : Result::kNotStrings;
    }

  private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    bool eat(char c) {
        if (!at_end() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void skip_ws() {
        while (!at_end() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool read_hex4(char32_t& v) {
        if (pos_ + 4 > s_.size()) {
            return false;
        }
        v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<char32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<char32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<char32_t>(c - 'A' + 10);
            } else {
                return false;
            }
        }
        return true;
    }

    // out may be null when the string is only validated.
    bool read_string(std::string* out) {
        if (!eat('"')) {
            return false;
        }
        const auto put = [out](char c) {
            if (out) {
                *out += c;
            }
        };
        while (true) {
            if (at_end()) {
                return false;
            }
            const unsigned char c = static_cast<unsigned char>(s_[pos_]);
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            if (c == '\\') {
                ++pos_;
                if (at_end()) {
                    return false;
                }
                const char e = s_[pos_++];
                static constexpr std::string_view kEscaped = "\"\\/bfnrt";
                static constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
                if (size_t k = kEscaped.find(e); k != std::string_view::npos) {
                    put(kMeaning[k]);
                    continue;
                }
                if (e != 'u') {
                    return false;
                }
                char32_t v;
                if (!read_hex4(v)) {
                    return false;
                }
                if (v >= 0xD800 && v < 0xDC00) {
                    // A high surrogate pairs only with an immediately following low one.
                    char32_t low = 0;
                    size_t save = pos_;
                    if (pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
                        pos_ += 2;
                        if (read_hex4(low) && low >= 0xDC00 && low < 0xE000) {
                            v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            pos_ = save;
                            v = 0xFFFD;
                        }
                    } else {
                        v = 0xFFFD;
                    }
                } else if (v >= 0xDC00 && v < 0xE000) {
                    v = 0xFFFD;
                }
                if (out) {
                    utf8::append(*out, v);
                }
                continue;
            }
            Rune r = decode(s_, pos_);
            if (out && r.ok) {
                out->append(s_.substr(pos_, r.width));
            } else if (out) {
                utf8::append(*out, 0xFFFD);
            }
            pos_ += r.width;
        }
    }

    bool skip_literal(std::string_view lit) {
        if (s_.substr(pos_, lit.size()) != lit) {
            return false;
        }
        pos_ += lit.size();
        return true;
    }

    bool skip_number() {
        eat('-');
        if (eat('0')) {
        } else if (!at_end() && s_[pos_] >= '1' && s_[pos_] <= '9') {
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        } else {
            return false;
        }
        if (eat('.')) {
            if (at_end() || !is_digit(s_[pos_])) {
                return false;
            }
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        }
        if (eat('e') || eat('E')) {
            if (!eat('+')) {
                eat('-');
            }
            if (at_end() || !is_digit(s_[pos_])) {
                return false;
            }
            while (!at_end() && is_digit(s_[pos_])) {
                ++pos_;
            }
        }
        return true;
    }

    bool skip_value(int depth) {
        if (depth > 10000) {
            return false;  // Go's decoder refuses nesting this deep too
        }
        skip_ws();
        switch (peek()) {
            case '"':
                return read_string(nullptr);
            case 't':
                return skip_literal("true");
            case 'f':
                return skip_literal("false");
            case 'n':
                return skip_literal("null");
            case '[': {
                ++pos_;
                skip_ws();
                if (eat(']')) {
                    return true;
                }
                while (true) {
                    if (!skip_value(depth + 1)) {
                        return false;
                    }
                    skip_ws();
                    if (eat(',')) {
                        continue;
                    }
                    return eat(']');
                }
            }
            case '{': {
                ++pos_;
                skip_ws();
                if (eat('}')) {
                    return true;
                }
                while (true) {
                    skip_ws();
                    if (!read_string(nullptr)) {
                        return false;
                    }
                    skip_ws();
                    if (!eat(':') || !skip_value(depth + 1)) {
                        return false;
                    }
                    skip_ws();
                    if (eat(',')) {
                        continue;
                    }
                    return eat('}');
                }
            }
            default:
                return skip_number();
        }
    }

    std::string_view s_;
    size_t pos_ = 0;
};

const char* const kNotStringArray =
    "when using JSON array syntax, arrays must be comprised of strings only";

// nullopt: not JSON (use shell form). Throws for JSON arrays with non-string elements.
std::optional<std::vector<std::string>> parse_json_array(std::string_view rest) {
    rest = trim_left_space(rest);
    if (rest.empty() || rest.front() != '[') {
        return std::nullopt;
    }
    std::vector<std::string> out;
    switch (JsonArrayReader(rest).read(out)) {
        case JsonArrayReader::Result::kStrings:
            return out;
        case JsonArrayReader::Result::kNotStrings:
            throw Failure{kNotStringArray};
        case JsonArrayReader::Result::kSyntaxError:
            break;
    }
    return std::nullopt;
}

// ---- per-instruction argument parsers ---------------------------------------------------

std::vector<std::string> split_whitespace_delimited(std::string_view rest) {
    std::vector<std::string> out;
    if (rest.empty()) {
        return out;
    }
    size_t i = 0;
    while (true) {
        size_t j = i;
        while (j < rest.size() && !is_split_space(rest[j])) {
            ++j;
        }
        out.emplace_back(rest.substr(i, j - i));
        if (j == rest.size()) {
            break;
        }
        while (j < rest.size() && is_split_space(rest[j])) {
            ++j;
        }
        i = j;
    }
    return out;
}

void parse_maybe_json(std::string_view rest, Node& node) {
    if (rest.empty()) {
        return;
    }
    if (auto json = parse_json_array(rest)) {
        node.args = std::move(*json);
        node.json_form = true;
        return;
    }
    node.args.emplace_back(rest);
}

void parse_maybe_json_to_list(std::string_view rest, Node& node) {
    if (auto json = parse_json_array(rest)) {
        node.args = std::move(*json);
        node.json_form = true;
        return;
    }
    node.args = split_whitespace_delimited(rest);
}

void parse_name_val(std::string_view rest, std::string_view instruction, char escape, Node& node) {
    std::vector<std::string> words = split_words(rest, escape);
    if (words.empty()) {
        return;
    }
    if (words[0].find('=') == std::string::npos) {
        // Legacy "ENV key the rest is the value".
        size_t i = 0;
        while (i < rest.size() && !is_split_space(rest[i])) {
            ++i;
        }
        size_t j = i;
        while (j < rest.size() && is_split_space(rest[j])) {
            ++j;
        }
        if (i == rest.size()) {
            throw Failure{std::string(instruction) + " must have two arguments"};
        }
        node.args.emplace_back(rest.substr(0, i));
        node.args.emplace_back(rest.substr(j));
        node.args.emplace_back("");
        return;
    }
    for (const auto& word : words) {
        size_t eq = word.find('=');
        if (eq == std::string::npos) {
            throw Failure{"Syntax error - can't find = in " + go_quote(word) +
                          ". Must be of the form: name=value"};
        }
        node.args.push_back(word.substr(0, eq));
        node.args.push_back(word.substr(eq + 1));
        node.args.emplace_back("=");
    }
}

void parse_health_config(std::string_view rest, Node& node) {
    size_t sep = 0;
    while (sep < rest.size() && !is_ascii_space(rest[sep])) {
        ++sep;
    }
    if (sep == 0) {
        return;
    }
    size_t next = sep;
    while (next < rest.size() && is_ascii_space(rest[next])) {
        ++next;
    }
    node.args.emplace_back(rest.substr(0, sep));
    Node cmd;
    parse_maybe_json(rest.substr(next), cmd);
    node.json_form = cmd.json_form;
    for (auto& a : cmd.args) {
        node.args.push_back(std::move(a));
    }
}

// Takes "--flag" words off the front of the text. Quotes are removed and backslash escapes
// applied inside flag words; upstream hard-codes '\' here whatever the escape directive says.
std::pair<std::string_view, std::vector<std::string>> extract_flags(std::string_view line) {
    std::vector<std::string> words;
    enum { kSpaces, kWord, kQuote } phase = kSpaces;
    std::string word;
    char quote = 0;
    bool blank_ok = false;
    for (size_t pos = 0; pos <= line.size(); ++pos) {
        char ch = pos < line.size() ? line[pos] : '\0';
        if (phase == kSpaces) {
            if (pos == line.size()) {
                break;
            }
            if (is_ascii_space(ch)) {
                continue;
            }
            if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') {
                return {line.substr(pos), words};
            }
            phase = kWord;
        }
        if (pos == line.size()) {
            if (word != "--" && (blank_ok || !word.empty())) {
                words.push_back(word);
            }
            break;
        }
        if (phase == kWord) {
            if (is_ascii_space(ch)) {
                phase = kSpaces;
                if (word == "--") {
                    return {line.substr(pos), words};
                }
                if (blank_ok || !word.empty()) {
                    words.push_back(word);
                }
                word.clear();
                blank_ok = false;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = true;
                phase = kQuote;
                continue;
            }
            if (ch == '\\') {
                if (pos + 1 == line.size()) {
                    continue;
                }
                ch = line[++pos];
            }
            word += ch;
            continue;
        }
        // kQuote
        if (ch == quote) {
            phase = kWord;
            continue;
        }
        if (ch == '\\') {
            if (pos + 1 == line.size()) {
                phase = kWord;
                continue;
            }
            ch = line[++pos];
        }
        word += ch;
    }
    return {std::string_view{}, words};
}

Node node_from_line(std::string_view line, char escape) {
    Node node;
    node.original = std::string(line);
    std::string_view trimmed = trim_space(line);
    size_t cmd_end = 0;
    while (cmd_end < trimmed.size() && !is_split_space(trimmed[cmd_end])) {
        ++cmd_end;
    }
    node.keyword = ascii_lower(trimmed.substr(0, cmd_end));
    std::string_view rest;
    if (cmd_end < trimmed.size()) {
        size_t args_start = cmd_end;
        while (args_start < trimmed.size() && is_split_space(trimmed[args_start])) {
            ++args_start;
        }
        auto [remaining, flags] = extract_flags(trimmed.substr(args_start));
        rest = trim_space(remaining);
        node.flags = std::move(flags);
    }
    const std::string& k = node.keyword;
    if (k == "run" || k == "cmd" || k == "entrypoint" || k == "shell") {
        parse_maybe_json(rest, node);
    } else if (k == "add" || k == "copy" || k == "volume") {
        parse_maybe_json_to_list(rest, node);
    } else if (k == "from" || k == "expose") {
        node.args = split_whitespace_delimited(rest);
    } else if (k == "maintainer" || k == "user" || k == "workdir" || k == "stopsignal") {
        if (!rest.empty()) {
            node.args.emplace_back(rest);
        }
    } else if (k == "env") {
        parse_name_val(rest, "ENV", escape, node);
    } else if (k == "label") {
        parse_name_val(rest, "LABEL", escape, node);
    } else if (k == "arg") {
        node.args = split_words(rest, escape);
    } else if (k == "healthcheck") {
        parse_health_config(rest, node);
    } else if (k == "onbuild") {
        if (!rest.empty()) {
            node.onbuild = std::make_shared<const Node>(node_from_line(rest, escape));
        }
    } else {
        // Upstream's parser keeps unknown instructions with one empty argument; the
        // instruction layer (check_instruction_names) rejects them.
        node.args.emplace_back("");
    }
    return node;
}

bool can_contain_heredoc(const Node& node) {
    const Node* target = &node;
    if (node.keyword == "onbuild" && node.onbuild) {
        target = node.onbuild.get();
    }
    const std::string& k = target->keyword;
    return (k == "run" || k == "copy" || k == "add") && !target->json_form;
}

// ---- heredoc words ------------------------------------------------------------------------

// Splits a whole line into shell words keeping quotes and escapes (upstream runs its shell
// lexer in raw mode). Returns nullopt where that lexer would fail (unterminated quote or
// "${"), in which case upstream finds no heredocs on the line.
std::optional<std::vector<std::string>> raw_shell_words(std::string_view line) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    const auto flush = [&] {
        if (in_word && !cur.empty()) {
            words.push_back(cur);
        }
        cur.clear();
        in_word = false;
    };
    size_t i = 0;
    while (i < line.size()) {
        char c = line[i];
        if (c == '\'') {
            size_t j = line.find('\'', i + 1);
            if (j == std::string_view::npos) {
                return std::nullopt;
            }
            cur.append(line.substr(i, j - i + 1));
            in_word = true;
            i = j + 1;
        } else if (c == '"') {
            size_t j = i + 1;
            while (j < line.size() && line[j] != '"') {
                j += (line[j] == '\\' && j + 1 < line.size()) ? 2 : 1;
            }
            if (j >= line.size()) {
                return std::nullopt;
            }
            cur.append(line.substr(i, j - i + 1));
            in_word = true;
            i = j + 1;
        } else if (c == '\\') {
            size_t n = i + 1 < line.size() ? 2 : 1;
            cur.append(line.substr(i, n));
            in_word = true;
            i += n;
        } else if (c == '$' && i + 1 < line.size() && line[i + 1] == '{') {
            size_t j = line.find('}', i + 2);
            if (j == std::string_view::npos) {
                return std::nullopt;
            }
            cur.append(line.substr(i, j - i + 1));
            in_word = true;
            i = j + 1;
        } else {
            Rune r = decode(line, i);
            if (r.ok && utf8::is_go_space(r.value)) {
                flush();
            } else {
                cur.append(line.substr(i, r.width));
                in_word = true;
            }
            i += r.width;
        }
    }
    flush();
    return words;
}

// Processes a heredoc delimiter word like the shell: quotes removed (noting whether any were
// used), backslash escapes applied, variables left as written. Splits on unquoted whitespace.
std::vector<std::string> delimiter_words(std::string_view s, bool& quoted) {
    std::vector<std::string> words;
    std::string cur;
    const auto flush = [&] {
        if (!cur.empty()) {
            words.push_back(cur);
        }
        cur.clear();
    };
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (c == '\'') {
            size_t j = s.find('\'', i + 1);
            if (j == std::string_view::npos) {
                throw Failure{
                    "unexpected end of statement while looking for matching single-quote"};
            }
            quoted = true;
            cur.append(s.substr(i + 1, j - i - 1));
            i = j + 1;
        } else if (c == '"') {
            quoted = true;
            size_t j = i + 1;
            while (true) {
                if (j >= s.size()) {
                    throw Failure{
                        "unexpected end of statement while looking for matching double-quote"};
                }
                if (s[j] == '"') {
                    break;
                }
                if (s[j] == '\\' && j + 1 < s.size() &&
                    (s[j + 1] == '"' || s[j + 1] == '$' || s[j + 1] == '\\')) {
                    cur += s[j + 1];
                    j += 2;
                    continue;
                }
                cur += s[j++];
            }
            i = j + 1;
        } else if (c == '\\') {
            if (i + 1 < s.size()) {
                cur += s[i + 1];
            }
            i += 2;
        } else {
            Rune r = decode(s, i);
            if (r.ok && utf8::is_go_space(r.value)) {
                flush();
            } else {
                cur.append(s.substr(i, r.width));
            }
            i += r.width;
        }
    }
    flush();
    return words;
}

std::optional<Heredoc> heredoc_from_word(std::string_view word) {
    // ^(\d*)<<(-?)([^<]*)$
    size_t i = 0;
    while (i < word.size() && is_digit(word[i])) {
        ++i;
    }
    if (word.substr(i, 2) != "<<") {
        return std::nullopt;
    }
    std::string_view digits = word.substr(0, i);
    i += 2;
    bool chomp = false;
    if (i < word.size() && word[i] == '-') {
        chomp = true;
        ++i;
    }
    std::string_view rest = word.substr(i);
    if (rest.find('<') != std::string_view::npos || rest.empty()) {
        return std::nullopt;
    }
    bool quoted = false;
    std::vector<std::string> words = delimiter_words(rest, quoted);
    if (words.size() != 1) {
        return std::nullopt;
    }
    Heredoc doc;
    doc.name = std::move(words[0]);
    doc.expand = !quoted;
    doc.chomp_tabs = chomp;
    unsigned long long fd = 0;
    for (char d : digits) {
        fd = fd * 10 + static_cast<unsigned>(d - '0');
        if (fd > 0xFFFFFFFFull) {
            fd = 0;  // upstream ignores the parse error; an absurd descriptor means "none"
            break;
        }
    }
    doc.file_descriptor = static_cast<unsigned>(fd);
    return doc;
}

std::vector<Heredoc> heredocs_in_line(std::string_view line) {
    std::vector<Heredoc> docs;
    auto words = raw_shell_words(line);
    if (!words) {
        return docs;
    }
    for (const auto& w : *words) {
        if (auto doc = heredoc_from_word(w)) {
            docs.push_back(std::move(*doc));
        }
    }
    return docs;
}

// ---- physical lines -----------------------------------------------------------------------

// Hands out physical lines with their line endings, as upstream's scanner does, and
// enforces the maximum line length.
class LineReader {
  public:
    LineReader(std::string_view text, const std::string& file, std::string_view source)
        : text_(text), file_(file), source_(source) {}

    bool next(std::string_view& token) {
        if (pos_ >= text_.size()) {
            return false;
        }
        size_t nl = text_.find('\n', pos_);
        size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
        token = text_.substr(pos_, end - pos_);
        size_t content = token.size() - (nl == std::string_view::npos ? 0 : 1);
        if (content > kMaxLineLength) {
            throw DockerfileError(file_, number_ + 1,
                                  "dockerfile line greater than max allowed size of " +
                                      std::to_string(kMaxLineLength),
                                  0, source_);
        }
        pos_ = end;
        return true;
    }
    int number() const { return number_; }
    void count() { ++number_; }

  private:
    std::string_view text_;
    const std::string& file_;
    std::string_view source_;
    size_t pos_ = 0;
    int number_ = 0;  // lines consumed so far
};

std::string first_word(std::string_view line) {
    std::string_view t = trim_space(line);
    size_t end = 0;
    while (end < t.size() && !is_split_space(t[end])) {
        ++end;
    }
    return std::string(t.substr(0, end));
}

void check_node_name(const Node& node, const Node& located, std::string_view filename,
                     std::string_view source) {
    const auto& known = known_instructions();
    std::string upper = node.keyword;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
        return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    });
    if (std::find(known.begin(), known.end(), upper) == known.end()) {
        std::string written = first_word(node.original);
        std::string message = "unknown instruction: " + written;
        if (auto s = suggest_instruction(written)) {
            message += " (did you mean " + *s + "?)";
        }
        throw DockerfileError(std::string(filename), located.start_line, std::move(message),
                              located.end_line, source);
    }
    if (node.onbuild) {
        check_node_name(*node.onbuild, located, filename, source);
    }
}

}  // namespace

// ---- public API ---------------------------------------------------------------------------

std::vector<std::string> split_words(std::string_view rest, char escape) {
    enum { kSpaces, kWord, kQuote } phase = kSpaces;
    std::vector<std::string> words;
    std::string word;
    char32_t quote = 0;
    bool blank_ok = false;
    // Upstream appends runes, so an invalid byte turns into U+FFFD in the word.
    const auto append = [&](std::string_view s, size_t pos, const Rune& r) {
        if (r.ok) {
            word.append(s.substr(pos, r.width));
        } else {
            word.append("\xEF\xBF\xBD");
        }
    };
    Rune r{0, 0, true};
    for (size_t pos = 0; pos <= rest.size(); pos += r.width) {
        if (pos != rest.size()) {
            r = decode(rest, pos);
        } else {
            r.width = 1;  // ends the loop
        }
        if (phase == kSpaces) {
            if (pos == rest.size()) {
                break;
            }
            if (utf8::is_go_space(r.value) && r.ok) {
                continue;
            }
            phase = kWord;
        }
        if (pos == rest.size()) {
            if (blank_ok || !word.empty()) {
                words.push_back(word);
            }
            break;
        }
        if (phase == kWord) {
            if (r.ok && utf8::is_go_space(r.value)) {
                phase = kSpaces;
                if (blank_ok || !word.empty()) {
                    words.push_back(word);
                }
                word.clear();
                blank_ok = false;
                continue;
            }
            if (r.value == '\'' || r.value == '"') {
                quote = r.value;
                blank_ok = true;
                phase = kQuote;
            }
            if (r.value == static_cast<unsigned char>(escape)) {
                if (pos + r.width == rest.size()) {
                    continue;  // an escape at the very end is dropped
                }
                // Unquoted escape: keep it and the next character, even a quote.
                append(rest, pos, r);
                pos += r.width;
                r = decode(rest, pos);
            }
            append(rest, pos, r);
            continue;
        }
        // kQuote
        if (r.value == quote) {
            phase = kWord;
        }
        // Nothing escapes inside single quotes.
        if (r.value == static_cast<unsigned char>(escape) && quote != '\'') {
            if (pos + r.width == rest.size()) {
                phase = kWord;
                continue;
            }
            append(rest, pos, r);
            pos += r.width;
            r = decode(rest, pos);
        }
        append(rest, pos, r);
    }
    return words;
}

std::optional<Heredoc> parse_heredoc(std::string_view word) {
    try {
        return heredoc_from_word(word);
    } catch (const Failure& f) {
        throw DockerfileError("", 0, f.message);
    }
}

std::vector<Heredoc> heredocs_from_line(std::string_view line) {
    try {
        return heredocs_in_line(line);
    } catch (const Failure& f) {
        throw DockerfileError("", 0, f.message);
    }
}

std::string chomp_heredoc_content(std::string_view content) {
    std::string out;
    out.reserve(content.size());
    bool line_start = true;
    for (char c : content) {
        if (line_start && c == '\t') {
            continue;
        }
        line_start = c == '\n';
        out += c;
    }
    return out;
}

const std::vector<std::string>& known_instructions() {
    static const std::vector<std::string> names = {
        "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
        "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
        "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};
    return names;
}

std::optional<std::string> suggest_instruction(std::string_view keyword) {
    if (keyword.empty()) {
        return std::nullopt;
    }
    const std::string lower = ascii_lower(keyword);
    std::string match;
    size_t best = 3;  // upstream's threshold: distance 2 at most
    for (const auto& name : known_instructions()) {
        std::string opt = ascii_lower(name);
        if (opt == lower) {
            return std::nullopt;
        }
        size_t d = edit_distance(lower, opt);
        if (d < best) {
            best = d;
            match = opt;
        }
    }
    if (match.empty()) {
        return std::nullopt;
    }
    if (std::string(keyword) == lower) {
        return match;
    }
    for (char& c : match) {
        c = static_cast<char>(c - 'a' + 'A');
    }
    return match;
}

void check_instruction_names(const ParseResult& result, std::string_view filename,
                             std::string_view source) {
    for (const auto& child : result.children) {
        check_node_name(child, child, filename, source);
    }
}

ParseResult parse_dockerfile(std::string_view text, std::string_view filename) {
    const std::string file(filename);
    ParseResult result;
    Directives directives;
    LineReader reader(text, file, text);
    std::vector<std::string> comments;

    // Wraps helper failures with the line range they belong to.
    const auto fail = [&](const Failure& f, int start, int end) -> DockerfileError {
        return DockerfileError(file, start, f.message, end, text);
    };
    // Newline removed, optionally left-trimmed, directive-checked, comment blanked.
    const auto process_line = [&](std::string_view token, bool strip_left) -> std::string_view {
        std::string_view t = trim_newline(token);
        if (strip_left) {
            t = trim_left_space(t);
        }
        try {
            directives.observe(t);
        } catch (const Failure& f) {
            throw fail(f, reader.number() + 1, 0);
        }
        if (!t.empty() && t.front() == '#') {
            return {};
        }
        return t;
    };

    std::string_view token;
    while (reader.next(token)) {
        if (reader.number() == 0 && token.substr(0, 3) == "\xEF\xBB\xBF") {
            token.remove_prefix(3);
        }
        if (is_comment(token)) {
            // Mirrors upstream exactly: drop the first byte (normally '#'), then trim.
            std::string c(trim_space(token.substr(1)));
            if (c.empty()) {
                comments.clear();
            } else {
                comments.push_back(std::move(c));
            }
        }
        std::string_view first = process_line(token, true);
        reader.count();
        const int start_line = reader.number();
        const int column = 1 + static_cast<int>(trim_newline(token).size() -
                                                trim_left_space(trim_newline(token)).size());

        auto [head, end_of_line] = trim_continuation(first, directives.escape());
        if (end_of_line && head.empty()) {
            continue;
        }
        std::string line(head);
        bool empty_continuation = false;
        while (!end_of_line && reader.next(token)) {
            std::string_view cont = process_line(token, false);
            reader.count();
            if (is_comment(token)) {
                continue;
            }
            if (trim_left_space(cont).empty()) {
                empty_continuation = true;
                continue;
            }
            auto [part, eol] = trim_continuation(cont, directives.escape());
            end_of_line = eol;
            line += part;
        }
        if (empty_continuation) {
            result.warnings.push_back(
                Warning{"Empty continuation line found in: " + line,
                        "Empty continuation lines will become errors in a future release",
                        "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
                        reader.number()});
        }

        Node child;
        try {
            child = node_from_line(line, directives.escape());
        } catch (const Failure& f) {
            throw fail(f, start_line, reader.number());
        }
        child.column = column;

        if (can_contain_heredoc(child) && line.find("<<") != std::string::npos) {
            std::vector<Heredoc> docs;
            try {
                docs = heredocs_in_line(line);
            } catch (const Failure& f) {
                throw fail(f, start_line, reader.number());
            }
            for (auto& doc : docs) {
                bool terminated = false;
                while (reader.next(token)) {
                    reader.count();
                    std::string_view candidate = trim_newline(token);
                    if (doc.chomp_tabs) {
                        candidate.remove_prefix(
                            std::min(candidate.find_first_not_of('\t'), candidate.size()));
                    }
                    if (candidate == doc.name) {
                        terminated = true;
                        break;
                    }
                    doc.content.append(token);
                }
                if (!terminated) {
                    throw fail(Failure{"unterminated heredoc"}, start_line, reader.number());
                }
                child.heredocs.push_back(std::move(doc));
            }
        }

        child.start_line = start_line;
        child.end_line = reader.number();
        child.comments = std::move(comments);
        comments.clear();
        if (result.children.empty()) {
            result.start_line = start_line;
        }
        result.end_line = child.end_line;
        result.children.push_back(std::move(child));
    }

    if (result.children.empty()) {
        throw DockerfileError(file, 0, "file with no instructions");
    }
    result.escape = directives.escape();
    result.directives = directives.values();
    return result;
}

}  // namespace kiln::frontend
