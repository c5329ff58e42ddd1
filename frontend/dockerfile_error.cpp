#include "frontend/dockerfile_error.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "base/utf8.h"

namespace kiln::frontend {
namespace {

// A Dockerfile line may be a megabyte long: what an error shows of one is cut to
// a width a terminal shows, at a UTF-8 character boundary, with what was left
// out counted.
constexpr std::size_t kShownLine = 160;
constexpr std::size_t kShownMessage = 400;
// Lines shown of a longer marked range: its first and its last ones.
constexpr int kShownRangeHead = 40;
constexpr int kShownRangeTail = 10;

std::string cut(std::string_view text, std::size_t width) {
    if (text.size() <= width)
        return std::string(text);
    const std::size_t end = utf8::prefix_length(text, width);
    return std::string(text.substr(0, end)) + "... (" + std::to_string(text.size() - end) +
           " more bytes)";
}

std::string compose_what(const std::string& file, int line, const std::string& message) {
    std::string out;
    if (!file.empty()) {
        out += file;
        if (line > 0) {
            out += ':';
            out += std::to_string(line);
        }
        out += ": ";
    } else if (line > 0) {
        out += "line " + std::to_string(line) + ": ";
    }
    out += cut(message, kShownMessage);
    return out;
}

}  // namespace

DockerfileError::DockerfileError(std::string file, int line, std::string message, int end_line,
                                 std::string_view source)
    : Error(compose_what(file, line, message)),
      file_(std::move(file)),
      line_(line),
      end_line_(end_line < line ? line : end_line),
      message_(std::move(message)) {
    if (!source.empty() && line_ > 0) {
        context_ = render_source_context(source, line_, end_line_);
    }
}

std::string render_source_context(std::string_view source, int start_line, int end_line) {
    // Lines as Go's strings.Split(data, "\n") gives them: a trailing newline yields a final
    // empty line, which BuildKit shows as padding too. Only the shown lines are looked at
    // (the source may be megabytes).
    const int count = 1 + static_cast<int>(std::count(source.begin(), source.end(), '\n'));
    if (end_line < start_line) {
        end_line = start_line;
    }
    if (start_line < 1 || start_line > count) {
        return {};
    }
    const int mark_start = start_line;
    const int mark_end = end_line;
    int end = end_line > count ? count : end_line;
    int start = start_line;
    const int pad = (end == start) ? 4 : 2;
    // Same stepping as BuildKit so the number of context lines matches its output.
    for (int p = 0; p < pad;) {
        if (start > 1) {
            --start;
            ++p;
        }
        if (end != count) {
            ++end;
            ++p;
        }
        ++p;
    }
    // BuildKit shows every line of the range; an instruction continued over thousands of
    // lines is shown by its head and its tail instead.
    const int marked = std::min(mark_end, end) - mark_start + 1;
    const int skip_from =
        marked > kShownRangeHead + kShownRangeTail ? mark_start + kShownRangeHead : end + 1;
    const int skip_to = mark_start + marked - kShownRangeTail;  // first line shown again

    size_t pos = 0;
    for (int i = 1; i < start; ++i) {
        pos = source.find('\n', pos) + 1;
    }
    std::string out = "--------------------\n";
    for (int i = start; i <= end; ++i) {
        const size_t nl = source.find('\n', pos);
        const std::string_view line =
            source.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? source.size() : nl + 1;
        if (i == skip_from) {
            out += "     | ... (" + std::to_string(skip_to - skip_from) + " more lines)\n";
        }
        if (i >= skip_from && i < skip_to) {
            continue;
        }
        char num[32];
        std::snprintf(num, sizeof num, " %3d | ", i);
        out += num;
        out += (i >= mark_start && i <= mark_end) ? ">>>" : "   ";
        out += ' ';
        out += cut(line, kShownLine);
        out += '\n';
    }
    out += "--------------------\n";
    return out;
}

}  // namespace kiln::frontend
