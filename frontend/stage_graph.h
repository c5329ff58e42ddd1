// The stages of a Dockerfile and the graph between them, as BuildKit's dockerfile2llb builds
// them before dispatching: instructions split into stages, each FROM line read into a Stage
// (base, name, platform), edges from FROM <stage>, COPY/ADD --from and RUN --mount from=
// (ONBUILD triggers included), the --target stage and the stages it needs. Internal to
// frontend/.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "frontend/arg_scope.h"
#include "frontend/build_plan.h"
#include "frontend/lower_context.h"
#include "frontend/parser.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {

struct StageSource {
    const Node* from = nullptr;
    std::vector<const Node*> nodes;  // the instructions after FROM, in order
};

struct SplitDockerfile {
    std::vector<const Node*> global_args;  // ARGs before the first FROM
    std::vector<StageSource> stages;       // never empty
};

// Throws "no build stage in current context" for an instruction other than ARG before the
// first FROM, and "dockerfile contains no stages to build" for a file without FROM.
SplitDockerfile split_stages(const ParseResult& parsed, const LowerContext& ctx);

// Reports InvalidDefaultArgInFrom for each FROM whose base, expanded with the global ARGs'
// defaults alone, is not a valid image reference. No-op without a linter.
void check_default_args_in_from(const SplitDockerfile& split, const ArgScope& args,
                                const ShellLex& lex, const LowerContext& ctx);

// One Stage per FROM line (no steps, no deps yet): base and --platform expanded with the
// global scope (UndefinedArgInFrom, RedundantTargetPlatform reported), name checked, base
// resolved to an earlier stage when it names one.
std::vector<Stage> stages_from(const SplitDockerfile& split, const ArgScope& args,
                               const ShellLex& lex, const LowerContext& ctx);

class StageGraph {
  public:
    // stages and sources (same order) must outlive the graph; stages' deps are filled by
    // link() and extended while lowering.
    StageGraph(std::vector<Stage>& stages, const std::vector<StageSource>& sources,
               const LowerContext& ctx);

    // Fills every stage's deps. Throws for a reference to the stage itself ("circular
    // dependency ...") or a bad stage index; a reference to a later stage is an error only
    // when that stage is lowered (check_lowerable).
    void link();

    // The --target stage (the last one when no target is given); throws when not found.
    int target() const;
    // The target and every stage it needs, transitively.
    std::set<int> needed(int target) const;

    // Throws the error of a reference to a later stage found in stage i, if any.
    void check_lowerable(int i) const;

    // The ONBUILD triggers stage i runs first: its base stage's ONBUILD instructions, or
    // those its base image carries (options.onbuild_triggers), located at i's FROM line.
    const std::vector<std::shared_ptr<const Node>>& triggers(int i);

    // The stage from (COPY --from, mount from=) names, directly or through a named context
    // target:STAGE, resolved as resolve_from(); -1 when it names none (an image, a local
    // named context).
    int resolve_stage(const Node& node, const std::string& from, int current, bool mount,
                      const std::string& target = "") const;

    // Whether from (COPY --from, mount from=) names a stage rather than an image.
    bool is_stage_ref(const std::string& from) const;

    // Resolves COPY --from / mount from= in stage current to a stage index, -1 for an image.
    // Throws for a bad index and for a stage that is not before current; target is the mount
    // target, for the message.
    int resolve_from(const Node& node, const std::string& from, int current, bool mount,
                     const std::string& target = "") const;

  private:
    std::string display_name(int i) const;
    void node_deps(const Node& node, int current, std::set<int>& deps) const;

    std::vector<Stage>& stages_;
    const std::vector<StageSource>& sources_;
    const LowerContext& ctx_;
    std::map<int, std::vector<std::shared_ptr<const Node>>> triggers_;
    std::map<int, DockerfileError> later_ref_errors_;
};

}  // namespace kiln::frontend
