// The one exception type for a Dockerfile the frontend cannot accept (syntax, directives,
// unknown instructions). It carries where the problem is so the CLI can print BuildKit-style
// "Dockerfile:7: ..." plus a few lines of source with the failing line marked.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::frontend {

class DockerfileError : public Error {
  public:
    // line and end_line are 1-based physical lines; 0 means "no particular line".
    // end_line < line is treated as end_line == line. source, when given, is the whole
    // Dockerfile text; the context is rendered here so the error does not keep a view into
    // a buffer that may be gone by the time the error is printed.
    DockerfileError(std::string file, int line, std::string message, int end_line = 0,
                    std::string_view source = {});

    const std::string& file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    int end_line() const noexcept { return end_line_; }
    // The bare message, without "file:line: ".
    const std::string& message() const noexcept { return message_; }
    // Source excerpt in BuildKit's layout, or "" when no source was given or the line is out
    // of range:
    //   --------------------
    //      5 |     FROM alpine
    //      7 | >>> RUNN x
    //   --------------------
    // Every line ends with '\n'.
    const std::string& context() const noexcept { return context_; }
    std::string detail() const override { return context_; }

  private:
    std::string file_;
    int line_;
    int end_line_;
    std::string message_;
    std::string context_;
};

// The excerpt used by DockerfileError::context(): lines start..end marked with ">>>", padded
// with neighbouring lines the way BuildKit's errdefs.Source.Print does (4 extra lines for a
// one-line range, 2 otherwise, split before/after as room allows). "" if start is out of
// range. A line longer than 160 bytes is cut there ("... (N more bytes)"), a range of more
// than 50 lines shows its first 40 and last 10 ("     | ... (N more lines)" between), and
// what() shows at most 400 bytes of the message: an error never echoes a huge line or
// instruction back whole.
std::string render_source_context(std::string_view source, int start_line, int end_line);

}  // namespace kiln::frontend
