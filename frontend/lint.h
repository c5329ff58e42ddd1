// Build checks (BuildKit's "rules"): warnings about a Dockerfile that parses
// and lowers but is probably not what its author meant.
//
// The Linter collects warnings from two places: run_syntax_checks() looks at
// the AST alone (casing, JSON args, duplicate stage names, ...), and lower()
// reports what needs meaning (undefined variables, ARGs in FROM, secrets in
// ARG/ENV, files .dockerignore leaves out). The `# check=` directive is read
// here: `skip=Rule1,Rule2` (or `skip=all`) silences rules, `error=true` makes
// any reported warning fail the build.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/parser.h"

namespace kiln::frontend {

struct LintWarning {
    std::string rule;     // "StageNameCasing"
    std::string message;  // "Stage name 'BuilderBase' should be lowercase"
    std::string url;      // the rule's documentation page
    int line = 0;         // 1-based line in the Dockerfile
};

class Linter {
  public:
    // Reads the `# check=` directive of `parsed`. Throws DockerfileError for a
    // malformed directive value.
    Linter(const ParseResult& parsed, std::string filename);

    // Records a warning unless the rule is skipped. Duplicates (same rule,
    // line and message) are recorded once.
    void report(std::string_view rule, int line, std::string message);

    const std::vector<LintWarning>& warnings() const { return warnings_; }
    bool error_on_warning() const { return error_; }
    bool skipped(std::string_view rule) const;
    const std::string& filename() const { return filename_; }

    // "Dockerfile:3: StageNameCasing: Stage name 'X' should be lowercase"
    // (file:line first, like kiln's errors and compilers; BuildKit's `docker build` prints
    // the same parts as "WARN: StageNameCasing: Stage name 'X' should be lowercase (line 3)").
    // A warning without a line (0) gives "Dockerfile: Rule: message".
    std::string format(const LintWarning& w) const;

    // BuildKit's experimental rules (InvalidDefinitionDescription) are off unless the
    // directive names them: `# check=experimental=Rule1,Rule2` or `experimental=all`.
    // `skip` does not apply to them, as upstream.
    static bool is_experimental(std::string_view rule);

    // The message a lint violation turns into when error_on_warning() is set, as BuildKit
    // words it: "lint violation found for rules: A, B" (each rule once, first-seen order).
    // Empty when there is nothing to fail on.
    std::string violation_error() const;

  private:
    std::string filename_;
    std::set<std::string, std::less<>> skip_;
    bool skip_all_ = false;
    bool error_ = false;
    std::set<std::string, std::less<>> experimental_;
    bool experimental_all_ = false;
    std::vector<LintWarning> warnings_;
};

// The rules that need only the AST: NoEmptyContinuation (from the parser's warnings),
// MaintainerDeprecated, StageNameCasing, FromAsCasing, InvalidDefinitionDescription,
// ReservedStageName, DuplicateStageName, ConsistentInstructionCasing,
// FromPlatformFlagConstDisallowed, MultipleInstructionsDisallowed, JSONArgsRecommended,
// WorkdirRelativePath, LegacyKeyValueFormat, ExposeProtoCasing, ExposeInvalidFormat.
// Messages and lines are BuildKit's (frontend/dockerfile/linter, instructions,
// dockerfile2llb). Unlike a BuildKit build, every stage is checked, reachable from the target
// or not (as `docker build --check` does). Words holding a variable reference are not judged
// here (WORKDIR path, EXPOSE port, FROM --platform): their value needs lowering.
void run_syntax_checks(const ParseResult& parsed, Linter& linter);

// The comment lines directly above `node` that describe it ("# NAME what it
// is"), without the parser directives the first instruction's comments hold.
std::vector<std::string> description_comments(const ParseResult& parsed, const Node& node);

// Documentation URL of a rule (BuildKit's pages).
std::string rule_url(std::string_view rule);

}  // namespace kiln::frontend
