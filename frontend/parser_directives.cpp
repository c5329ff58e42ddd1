// Parser directives (# syntax=, # escape=, # check=) as BuildKit's parser reads them.
#include "frontend/ascii.h"
#include "frontend/parser_internal.h"

namespace kiln::frontend::parser_detail {
namespace {

bool is_directive_space(char c) {  // RE2's \s
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
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

}  // namespace

void Directives::observe(std::string_view line) {
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

}  // namespace kiln::frontend::parser_detail
