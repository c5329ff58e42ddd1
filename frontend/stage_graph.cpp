#include "frontend/stage_graph.h"

#include <algorithm>
#include <utility>

#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/go_compat.h"
#include "frontend/instructions.h"
#include "frontend/run_mounts.h"

namespace kiln::frontend {
namespace {

bool valid_stage_name(const std::string& s) {
    if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    return all_of_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.");
}

// Build-check messages follow BuildKit's linter/ruleset.go (what `docker build` prints), as
// frontend/lint.cpp does; the rule pages' "Output" samples agree with it except for
// SecretsUsedInArgOrEnv and InvalidDefaultArgInFrom, whose samples are the rule descriptions.
std::string invalid_default_arg_message(const std::string& base) {
    return "Default value for ARG " + base + " results in empty or invalid base image name";
}

// A named context standing for the stage st (one of its own name: the stage is replaced) or
// for what its FROM names (when that is not a stage or scratch), as BuildKit's precedence.
void apply_named_context(Stage& st, const std::vector<Stage>& earlier, const Node& node,
                         const LowerContext& ctx) {
    const NamedContext* nc = nullptr;
    if (!st.name.empty() && (nc = ctx.named_context(st.name)))
        st.replaced = true;
    else if (st.base_stage < 0 && ascii_lower(st.base) != "scratch")
        nc = ctx.named_context(st.base);
    if (!nc)
        return;
    st.base_stage = -1;
    switch (nc->kind) {
        case NamedContext::Kind::image:
            st.base = nc->value;
            break;
        case NamedContext::Kind::local:
            st.base = "scratch";
            st.base_context = nc->value;
            break;
        case NamedContext::Kind::stage:
            for (const auto& s : earlier)
                if (!s.name.empty() && s.name == ascii_lower(nc->value))
                    st.base_stage = s.index;
            if (st.base_stage < 0)
                ctx.fail(node, "named context target:" + nc->value +
                                   " must name a stage defined before this one");
            st.base = nc->value;
            break;
    }
}

}  // namespace

SplitDockerfile split_stages(const ParseResult& parsed, const LowerContext& ctx) {
    SplitDockerfile out;
    for (const Node& node : parsed.children) {
        if (node.keyword == "from") {
            out.stages.push_back({&node, {}});
            continue;
        }
        if (out.stages.empty()) {
            if (node.keyword == "arg") {
                out.global_args.push_back(&node);
                continue;
            }
            ctx.fail(node, "no build stage in current context");
        }
        out.stages.back().nodes.push_back(&node);
    }
    if (out.stages.empty())
        ctx.fail_line(0, "dockerfile contains no stages to build");
    return out;
}

void check_default_args_in_from(const SplitDockerfile& split, const ArgScope& args,
                                const ShellLex& lex, const LowerContext& ctx) {
    if (!ctx.options.linter)
        return;
    Environment env;
    try {
        env = args.defaults_only();
    } catch (const DockerfileError&) {
        return;  // reported again, as an error, when the global scope is resolved
    }
    for (const auto& rs : split.stages) {
        if (rs.from->args.empty())
            continue;
        std::string name;
        try {
            name = lex.process_word(rs.from->args[0], env);
        } catch (const ExpansionError&) {
            return;
        }
        if (!valid_image_ref(name))
            ctx.lint("InvalidDefaultArgInFrom", rs.from->start_line,
                     invalid_default_arg_message(rs.from->args[0]));
    }
}

std::vector<Stage> stages_from(const SplitDockerfile& split, const ArgScope& args,
                               const ShellLex& lex, const LowerContext& ctx) {
    std::vector<Stage> stages;
    const Environment& global = args.global();
    for (size_t i = 0; i < split.stages.size(); ++i) {
        const Node& node = *split.stages[i].from;
        FromInstruction from = parse_from(node, ctx);
        Stage st;
        st.index = static_cast<int>(i);
        st.line = node.start_line;
        ProcessWordResult r;
        try {
            r = lex.process_word_with_matches(from.base, global);
        } catch (const ExpansionError& e) {
            ctx.fail(node, e.what());
        }
        args.report_undeclared_in_from(node, r.unmatched);
        st.base = r.result;
        if (st.base.empty())
            ctx.fail(node, "base name (" + from.base + ") should not be blank");
        if (from.name) {
            st.name = ascii_lower(*from.name);
            if (!valid_stage_name(st.name))
                ctx.fail(node, "invalid name for build stage: \"" + *from.name +
                                   "\", name can't start with a number or contain symbols");
            for (const auto& s : stages) {
                if (s.name == st.name)
                    ctx.fail(node, "duplicate stage name \"" + st.name + "\"");
            }
        }
        if (from.platform) {
            const std::string& raw = *from.platform;
            ProcessWordResult p;
            try {
                p = lex.process_word_with_matches(raw, global);
            } catch (const ExpansionError& e) {
                ctx.fail(node,
                         std::string("failed to process arguments for platform: ") + e.what());
            }
            args.report_undeclared_in_from(node, p.unmatched);
            if (p.matched.size() == 1 && p.unmatched.empty() && p.matched.count("TARGETPLATFORM") &&
                global.get("TARGETPLATFORM").value_or("") == p.result) {
                ctx.lint("RedundantTargetPlatform", node.start_line,
                         "Setting platform to predefined " + raw +
                             " in FROM is redundant as this is the default behavior");
            }
            if (p.result.empty())
                ctx.fail(node, "empty platform value from expression " + raw);
            st.platform = p.result;
            std::string os = st.platform.substr(0, st.platform.find('/'));
            if (os.empty() || st.platform.ends_with('/') ||
                st.platform.find("//") != std::string::npos)
                ctx.fail(node, "failed to parse platform " + raw);
        }
        // A base naming an earlier stage (BuildKit looks only backwards).
        std::string lname = ascii_lower(st.base);
        for (const auto& s : stages) {
            if (!s.name.empty() && s.name == lname)
                st.base_stage = s.index;
        }
        apply_named_context(st, stages, node, ctx);
        if (!from.platform)
            st.platform = st.base_stage >= 0 ? stages[static_cast<size_t>(st.base_stage)].platform
                                             : ctx.options.default_platform;
        stages.push_back(std::move(st));
    }
    return stages;
}

StageGraph::StageGraph(std::vector<Stage>& stages, const std::vector<StageSource>& sources,
                       const LowerContext& ctx)
    : stages_(stages), sources_(sources), ctx_(ctx) {}

std::string StageGraph::display_name(int i) const {
    const Stage& s = stages_[static_cast<size_t>(i)];
    return s.name.empty() ? "stage-" + std::to_string(i) : s.name;
}

int StageGraph::resolve_from(const Node& node, const std::string& from, int current, bool mount,
                             const std::string& target) const {
    int index = -1;
    bool numeric =
        !from.empty() &&
        all_of_chars(from[0] == '-' || from[0] == '+' ? from.substr(1) : from, "0123456789");
    if (numeric) {
        long long n = 0;
        try {
            n = std::stoll(from);
        } catch (const std::exception&) {
            n = -1;
        }
        if (n < 0 || n >= static_cast<long long>(stages_.size()))
            ctx_.fail(node, "invalid stage index " + from);
        index = static_cast<int>(n);
    } else {
        std::string l = ascii_lower(from);
        for (const auto& s : stages_) {
            if (!s.name.empty() && s.name == l)
                index = s.index;
        }
        if (index < 0)
            return -1;
    }
    if (index == current)
        ctx_.fail(node, "circular dependency detected on stage: " + display_name(current));
    if (index > current) {
        if (mount)
            ctx_.fail(node, "cannot mount from stage " + go_quote(from) + " to " +
                                go_quote(target) +
                                ", stage needs to be defined before current command");
        ctx_.fail(node, "cannot copy from stage " + go_quote(from) +
                            ", it needs to be defined before current stage " +
                            go_quote(display_name(current)));
    }
    return index;
}

int StageGraph::resolve_stage(const Node& node, const std::string& from, int current, bool mount,
                              const std::string& target) const {
    if (is_stage_ref(from))
        return resolve_from(node, from, current, mount, target);
    if (const NamedContext* nc = ctx_.named_context(from);
        nc && nc->kind == NamedContext::Kind::stage) {
        if (!is_stage_ref(nc->value))
            ctx_.fail(node, "named context target:" + nc->value + " names no stage");
        return resolve_from(node, nc->value, current, mount, target);
    }
    return -1;
}

bool StageGraph::is_stage_ref(const std::string& from) const {
    if (all_of_chars(from, "0123456789"))
        return true;
    std::string l = ascii_lower(from);
    return std::any_of(stages_.begin(), stages_.end(),
                       [&](const Stage& s) { return !s.name.empty() && s.name == l; });
}

// Dependencies of one instruction on other stages (COPY --from, RUN --mount from=), read
// from the raw flags: the graph is built before anything is expanded.
void StageGraph::node_deps(const Node& node, int current, std::set<int>& deps) const {
    for (const std::string& f : node.flags) {
        std::string body = f.substr(2);
        auto eq = body.find('=');
        if (eq == std::string::npos)
            continue;
        std::string name = ascii_lower(body.substr(0, eq));
        std::string value = body.substr(eq + 1);
        if (name == "from" && (node.keyword == "copy" || node.keyword == "add") && !value.empty()) {
            if (int idx = resolve_stage(node, value, current, false); idx >= 0)
                deps.insert(idx);
        } else if (name == "mount" && node.keyword == "run") {
            std::string from = mount_from_raw(value);
            if (int idx = from.empty() ? -1 : resolve_stage(node, from, current, true); idx >= 0)
                deps.insert(idx);
        }
    }
}

// Self references are cycles for every stage (BuildKit checks the whole graph); references
// to later stages are errors only for stages that are lowered.
void StageGraph::link() {
    for (size_t i = 0; i < sources_.size(); ++i) {
        std::set<int> deps;
        int cur = static_cast<int>(i);
        Stage& st = stages_[i];
        if (st.base_stage >= 0)
            deps.insert(st.base_stage);
        if (st.replaced) {  // its instructions are not built
            st.deps.assign(deps.begin(), deps.end());
            continue;
        }
        for (const Node* n : sources_[i].nodes) {
            try {
                node_deps(*n, cur, deps);
            } catch (const DockerfileError& e) {
                if (e.message().starts_with("circular") ||
                    e.message().starts_with("invalid stage index"))
                    throw;
                later_ref_errors_.emplace(cur, e);
            }
        }
        for (const auto& trig : triggers(cur))
            node_deps(*trig, cur, deps);
        st.deps.assign(deps.begin(), deps.end());
    }
}

void StageGraph::check_lowerable(int i) const {
    if (auto it = later_ref_errors_.find(i); it != later_ref_errors_.end())
        throw it->second;
}

const std::vector<std::shared_ptr<const Node>>& StageGraph::triggers(int i) {
    if (auto it = triggers_.find(i); it != triggers_.end())
        return it->second;
    std::vector<std::shared_ptr<const Node>> out;
    const Stage& st = stages_[static_cast<size_t>(i)];
    const Node& from = *sources_[static_cast<size_t>(i)].from;
    const LowerOptions& opt = ctx_.options;
    const bool base_replaced =
        st.base_stage >= 0 && stages_[static_cast<size_t>(st.base_stage)].replaced;
    if (st.replaced || base_replaced) {
        // none: a named context stands for the stage or for its base stage
    } else if (st.base_stage >= 0) {
        for (const Node* n : sources_[static_cast<size_t>(st.base_stage)].nodes) {
            if (n->keyword != "onbuild" || !n->onbuild)
                continue;
            auto copy = std::make_shared<Node>(*n->onbuild);
            if (copy->heredocs.empty())
                copy->heredocs = n->heredocs;
            copy->start_line = from.start_line;
            copy->end_line = from.end_line;
            out.push_back(std::move(copy));
        }
    } else if (ascii_lower(st.base) != "scratch" && opt.onbuild_triggers) {
        for (const std::string& text : opt.onbuild_triggers(st.base, st.platform)) {
            ParseResult pr;
            try {
                pr = parse_dockerfile(text, opt.filename);
                check_instruction_names(pr, opt.filename);
            } catch (const DockerfileError& e) {
                ctx_.fail(from, e.message());
            }
            if (pr.children.size() != 1)
                ctx_.fail(from, "onbuild trigger should be a single expression");
            auto node = std::make_shared<Node>(pr.children[0]);
            node->start_line = from.start_line;
            node->end_line = from.end_line;
            out.push_back(std::move(node));
        }
    }
    for (const auto& n : out) {
        if (n->keyword == "onbuild")
            ctx_.fail(from, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (n->keyword == "from" || n->keyword == "maintainer")
            ctx_.fail(from, ascii_upper(n->keyword) + " isn't allowed as an ONBUILD trigger");
    }
    return triggers_[i] = std::move(out);
}

int StageGraph::target() const {
    const std::string& target = ctx_.options.target;
    if (target.empty())
        return static_cast<int>(stages_.size()) - 1;
    std::string want = ascii_lower(target);
    for (const auto& s : stages_) {
        if (!s.name.empty() && s.name == want)
            return s.index;
    }
    throw DockerfileError(ctx_.options.filename, 0,
                          "target stage " + go_quote(target) + " could not be found");
}

std::set<int> StageGraph::needed(int target) const {
    std::set<int> needed;
    std::vector<int> todo = {target};
    while (!todo.empty()) {
        int i = todo.back();
        todo.pop_back();
        if (!needed.insert(i).second)
            continue;
        for (int d : stages_[static_cast<size_t>(i)].deps)
            todo.push_back(d);
    }
    return needed;
}

}  // namespace kiln::frontend
