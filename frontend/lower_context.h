// What every part of lowering shares and nothing else: the options and the two ways of
// telling the user about a problem (a DockerfileError that stops the build, or a build check
// sent to the linter). Internal to frontend/.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "frontend/lower.h"

namespace kiln::frontend {

struct LowerContext {
    const LowerOptions& options;

    // Throws DockerfileError for the lines of node, with the source excerpt.
    [[noreturn]] void fail(const Node& node, const std::string& message) const;
    // Throws DockerfileError for one line (0 = no particular line).
    [[noreturn]] void fail_line(int line, const std::string& message) const;
    // Reports a build check when a linter is set; no-op otherwise.
    void lint(std::string_view rule, int line, std::string message) const;
    // The named context `name` stands for (LowerOptions::named_contexts), null when none.
    const NamedContext* named_context(const std::string& name) const;
};

// Expands one word with the stage's environment (reporting undefined variables).
using ExpandWord = std::function<std::string(const std::string&)>;

// PATH of a stage on scratch or on an image whose ENV does not set it (BuildKit's default).
inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace kiln::frontend
