// One logical line into a Node: the keyword, the flags and each instruction's own argument
// syntax (exec/shell form, ENV/LABEL name=value pairs, HEALTHCHECK, ONBUILD), plus
// split_words, BuildKit's word splitting for ENV/LABEL/ARG.
#include <utility>

#include "base/go_quote.h"
#include "base/utf8.h"
#include "frontend/ascii.h"
#include "frontend/parser_internal.h"

namespace kiln::frontend {
namespace parser_detail {
namespace {

using utf8::decode;
using utf8::Rune;

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

}  // namespace

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

}  // namespace parser_detail

using utf8::decode;
using utf8::Rune;

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

}  // namespace kiln::frontend
