#include "frontend/lower_context.h"

#include <utility>

#include "base/error.h"
#include "base/reference.h"
#include "frontend/ascii.h"
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

const NamedContext* LowerContext::named_context(const std::string& name) const {
    const auto& all = options.named_contexts;
    if (all.empty() || name.empty())
        return nullptr;
    std::string key = ascii_lower(name);
    // As BuildKit's NamedContext: the name as a reference, familiar, ":latest" left out.
    try {
        Reference ref = parse_reference(name);
        std::string familiar = familiar_string(ref);
        if (familiar.ends_with(":latest"))
            familiar.resize(familiar.size() - 7);
        key = familiar;
    } catch (const Error&) {
        // Not a reference (a stage index, "scratch"): only the name itself.
    }
    auto it = all.find(key);
    return it == all.end() ? nullptr : &it->second;
}

}  // namespace kiln::frontend
