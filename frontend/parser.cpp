// The parser's main loop (BuildKit's parser.Parse): physical lines, directives at the top,
// comments, line continuations, heredoc bodies, and the instruction-name check. Each logical
// line is handed to parser_instruction.cpp; heredoc words to parser_heredoc.cpp.
#include "frontend/parser.h"

#include <algorithm>
#include <utility>

#include "base/edit_distance.h"
#include "base/utf8.h"
#include "frontend/ascii.h"
#include "frontend/parser_internal.h"

namespace kiln::frontend {
namespace parser_detail {

using utf8::decode;
using utf8::Rune;

bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

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

}  // namespace parser_detail

namespace {

using namespace parser_detail;

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
        if (result.children.size() == kMaxInstructions) {
            throw DockerfileError(file, start_line,
                                  "more than " + std::to_string(kMaxInstructions) + " instructions",
                                  0, text);
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
            if (line.size() > kMaxInstructionLength) {
                throw DockerfileError(file, start_line,
                                      "instruction longer than " +
                                          std::to_string(kMaxInstructionLength) +
                                          " bytes with its continuation lines joined",
                                      reader.number(), text);
            }
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
