// lower(): the order of BuildKit's dockerfile2llb, each part in its own file: split into
// stages and read FROM lines (stage_graph.h) with the ARG scopes (arg_scope.h), link the stage
// graph and prune it to --target, then lower each needed stage's instructions (typed by
// instructions.h, converted by lower_stage.h).
#include "frontend/lower.h"

#include <map>
#include <memory>

#include "frontend/arg_scope.h"
#include "frontend/dockerignore.h"
#include "frontend/lower_context.h"
#include "frontend/lower_stage.h"
#include "frontend/shell_lex.h"
#include "frontend/stage_graph.h"

namespace kiln::frontend {
namespace {

// The .dockerignore matcher for CopyIgnoredFile; null when there is nothing to check (or the
// patterns are malformed: that is reported where the context is read).
std::unique_ptr<PatternMatcher> ignore_matcher(const LowerOptions& opt) {
    if (!opt.linter || opt.ignore_patterns.empty())
        return nullptr;
    try {
        return std::make_unique<PatternMatcher>(opt.ignore_patterns);
    } catch (const PatternError&) {
        return nullptr;
    }
}

ShellLex raw_heredoc_lex() {
    ShellLexOptions raw;
    raw.skip_process_quotes = true;
    return ShellLex('\\', raw);
}

}  // namespace

void ImageSettings::set_env(const std::string& name, const std::string& value) {
    for (auto& [k, v] : env) {
        if (k == name) {
            v = value;
            return;
        }
    }
    env.emplace_back(name, value);
}

BuildPlan lower(const ParseResult& parsed, const LowerOptions& options) {
    const LowerContext ctx{options};
    const ShellLex lex(parsed.escape);
    const ShellLex raw_lex = raw_heredoc_lex();
    const std::unique_ptr<PatternMatcher> ignore = ignore_matcher(options);

    // Pass 1: stages, global args, FROM lines, the stage graph.
    SplitDockerfile split = split_stages(parsed, ctx);
    ArgScope args(split.global_args, lex, ctx);
    check_default_args_in_from(split, args, lex, ctx);
    args.resolve_globals();
    BuildPlan plan;
    plan.stages = stages_from(split, args, lex, ctx);
    StageGraph graph(plan.stages, split.stages, ctx);
    graph.link();
    plan.target = graph.target();
    std::set<int> needed = graph.needed(plan.target);

    // Pass 2: the steps of each stage that is built (every stage with all_stages).
    const LowerTools tools{ctx, lex, raw_lex, ignore.get(), graph, args};
    std::map<int, StageState> states;
    for (size_t i = 0; i < split.stages.size(); ++i) {
        int index = static_cast<int>(i);
        if (!options.all_stages && !needed.count(index))
            continue;
        graph.check_lowerable(index);
        Stage& stage = plan.stages[i];
        const Stage* base =
            stage.base_stage >= 0 ? &plan.stages[static_cast<size_t>(stage.base_stage)] : nullptr;
        const StageState* base_state = base ? &states[stage.base_stage] : nullptr;
        StageLowerer lowerer(stage, base, base_state, tools);
        if (!stage.base_context.empty())
            lowerer.start_from_context(*split.stages[i].from);
        if (stage.replaced) {  // a named context stands for it: nothing of it is built
            states[index] = lowerer.state();
            continue;
        }
        for (const auto& trigger : graph.triggers(index))
            lowerer.lower(*trigger, true);
        for (const Node* node : split.stages[i].nodes)
            lowerer.lower(*node, false);
        states[index] = lowerer.state();
    }
    plan.needed.assign(needed.begin(), needed.end());
    plan.unused_build_args = args.unused_build_args();
    return plan;
}

}  // namespace kiln::frontend
