// Heredocs: finding the heredoc words on a line (<<EOF, <<-'EOF', 3<<EOF) the way upstream's
// raw shell lexer splits it, and what "<<-" does to the body.
#include <utility>

#include "base/utf8.h"
#include "frontend/parser_internal.h"

namespace kiln::frontend {
namespace parser_detail {
namespace {

using utf8::decode;
using utf8::Rune;

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

}  // namespace

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

}  // namespace parser_detail

using parser_detail::Failure;

std::optional<Heredoc> parse_heredoc(std::string_view word) {
    try {
        return parser_detail::heredoc_from_word(word);
    } catch (const Failure& f) {
        throw DockerfileError("", 0, f.message);
    }
}

std::vector<Heredoc> heredocs_from_line(std::string_view line) {
    try {
        return parser_detail::heredocs_in_line(line);
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

}  // namespace kiln::frontend
