#include "frontend/lower_context.h"

#include <utility>

#include "frontend/lint.h"

namespace kiln::frontend {

void LowerContext::fail(const Node& node, const std::string& message) const {
    throw DockerfileError(options.filename, node.start_line, message, node.end_line,
                          options.source);
}

void LowerContext::fail_line(int line, const std::string& message) const {
    throw DockerfileError(options.filename, line, message, line, options.source);
}

void LowerContext::lint(std::string_view rule, int line, std::string message) const {
    if (options.linter)
        options.linter->report(rule, line, std::move(message));
}

}  // namespace kiln::frontend
