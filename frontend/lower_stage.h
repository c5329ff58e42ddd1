// Converting one stage's typed instructions (instructions.h) into Steps and image settings,
// as BuildKit's dispatch* functions do: words expanded with the stage's environment,
// UndefinedVar and the other meaning-level checks reported, history text worded as BuildKit
// words it. The member functions are split by kind: lower_stage.cpp (setup, expansion,
// dispatch), lower_settings.cpp (ENV, ARG, LABEL, USER, CMD, ... : image settings),
// lower_run.cpp (RUN), lower_copy.cpp (COPY, ADD). Internal to frontend/.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frontend/arg_scope.h"
#include "frontend/build_plan.h"
#include "frontend/dockerignore.h"
#include "frontend/instructions.h"
#include "frontend/lower_context.h"
#include "frontend/shell_lex.h"
#include "frontend/stage_graph.h"

namespace kiln::frontend {

// What lowering keeps of a stage beyond the Stage itself; a stage built FROM another starts
// from a copy of that stage's state.
struct StageState {
    Environment env;  // BuildKit's state env: ENV and ARG values
    // Declared ARGs (name, value), inherited from a base stage first.
    std::vector<std::pair<std::string, std::optional<std::string>>> build_args;
    bool env_known = true;  // false when built on an image whose ENV is unknown
    bool cmd_set = false;   // a CMD was set in this stage (an ENTRYPOINT then keeps it)
};

// What every stage's lowering shares; all of it outlives the lowering of the stages.
struct LowerTools {
    const LowerContext& ctx;
    const ShellLex& lex;           // the Dockerfile's escape character
    const ShellLex& raw_lex;       // heredoc bodies: '\\' escape, quotes kept as written
    const PatternMatcher* ignore;  // .dockerignore, for CopyIgnoredFile; null = no check
    StageGraph& graph;
    ArgScope& args;
};

class StageLowerer {
  public:
    // Starts stage with the settings and environment it inherits: from base_state and the
    // base stage's settings for FROM <stage> (base_state must then be non-null), PATH only
    // for scratch, options.image_settings (or PATH only) for an image.
    StageLowerer(Stage& stage, const Stage* base_stage, const StageState* base_state,
                 const LowerTools& tools);

    // Lowers one instruction of the stage (trigger: it is an ONBUILD trigger run here).
    void lower(const Node& node, bool trigger);

    const StageState& state() const { return state_; }

    // The first step of a stage FROM a local named context (Stage::base_context): its files
    // copied to "/", owned by root as COPY makes them. `from` is the stage's FROM line.
    void start_from_context(const Node& from);

  private:
    // lower_stage.cpp
    std::string expand(const Node& node, std::string_view word, bool report = true);
    std::string expand_with(const ShellLex& lex, const Node& node, std::string_view word,
                            bool report);
    void report_unmatched(const Node& node, const std::set<std::string>& unmatched);
    void check_secret_key(const Node& node, const std::string& key);
    Step& add_step(const Node& node, Step::Kind kind, std::string created_by);
    std::vector<std::string> shell_words() const;
    // Records a dependency on stage index found while lowering (COPY --from, mount from=).
    void add_dep(int index);
    // Where COPY --from / RUN --mount from= reads: a stage (named, by index or through a
    // named context target:STAGE; recorded with add_dep), a local named context, or else an
    // image (a named context's reference, or `from` itself). One of the three is set.
    struct FromSource {
        int stage = -1;
        std::string image;
        std::string context;
    };
    FromSource from_source(const Node& node, const std::string& from, bool mount,
                           const std::string& target = "");

    // lower_settings.cpp
    void apply(const Node& node, const EnvInstruction& in);
    void apply(const Node& node, const LabelInstruction& in);
    void apply(const Node& node, const ArgInstruction& in);
    void apply(const Node& node, const WorkdirInstruction& in);
    void apply(const Node& node, const UserInstruction& in);
    void apply(const Node& node, const StopsignalInstruction& in);
    void apply(const Node& node, const MaintainerInstruction& in);
    void apply(const Node& node, const ExposeInstruction& in);
    void apply(const Node& node, const VolumeInstruction& in);
    void apply(const Node& node, const CommandInstruction& in);
    void apply(const Node& node, const ShellInstruction& in);
    void apply(const Node& node, const HealthcheckInstruction& in);
    void apply(const Node& node, const OnbuildInstruction& in);

    // lower_run.cpp
    void apply(const Node& node, const RunInstruction& in);

    // lower_copy.cpp
    void apply(const Node& node, const CopyInstruction& in);

    Stage& stage_;
    StageState state_;
    const LowerTools& tools_;
    bool trigger_ = false;  // the instruction being lowered is an ONBUILD trigger
};

}  // namespace kiln::frontend
