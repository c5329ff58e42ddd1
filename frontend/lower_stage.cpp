#include "frontend/lower_stage.h"

#include <algorithm>
#include <sstream>
#include <variant>

#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/go_compat.h"

namespace kiln::frontend {

StageLowerer::StageLowerer(Stage& stage, const Stage* base_stage, const StageState* base_state,
                           const LowerTools& tools)
    : stage_(stage), tools_(tools) {
    const LowerOptions& opt = tools.ctx.options;
    if (stage.base_stage >= 0) {
        stage.settings = base_stage->settings;
        stage.settings.on_build.clear();
        state_.env = base_state->env;
        state_.build_args = base_state->build_args;
        state_.env_known = base_state->env_known;
    } else if (ascii_lower(stage.base) == "scratch") {
        stage.settings.set_env("PATH", kDefaultPath);
        state_.env.set("PATH", kDefaultPath);
    } else {
        std::optional<ImageSettings> base;
        if (opt.image_settings)
            base = opt.image_settings(stage.base, stage.platform);
        state_.env_known = base.has_value();
        if (base) {
            stage.settings = *base;
            stage.settings.on_build.clear();  // triggers run here, they are not inherited
            for (const auto& [k, v] : base->env)
                state_.env.set(k, v);
        }
        if (!state_.env.get("PATH")) {
            stage.settings.set_env("PATH", kDefaultPath);
            state_.env.set("PATH", kDefaultPath);
        }
    }
}

void StageLowerer::lower(const Node& node, bool trigger) {
    trigger_ = trigger;
    Instruction in = parse_instruction(node, tools_.ctx);
    std::visit([&](const auto& typed) { apply(node, typed); }, in);
}

std::string StageLowerer::expand(const Node& node, std::string_view word, bool report) {
    return expand_with(tools_.lex, node, word, report);
}

std::string StageLowerer::expand_with(const ShellLex& lex, const Node& node, std::string_view word,
                                      bool report) {
    ProcessWordResult r;
    try {
        r = lex.process_word_with_matches(word, state_.env);
    } catch (const ExpansionError& e) {
        tools_.ctx.fail(node, e.what());
    }
    if (report)
        report_unmatched(node, r.unmatched);
    return r.result;
}

void StageLowerer::report_unmatched(const Node& node, const std::set<std::string>& unmatched) {
    if (unmatched.empty() || !tools_.ctx.options.linter || !state_.env_known)
        return;
    std::vector<std::string> keys;
    for (const auto& [k, v] : state_.env.entries())
        keys.push_back(k);
    for (const auto& name : unmatched) {
        bool declared = std::any_of(state_.build_args.begin(), state_.build_args.end(),
                                    [&](const auto& a) { return a.first == name; });
        if (declared)
            continue;
        std::string msg = "Usage of undefined variable '$" + name + "'";
        if (auto s = suggest(name, keys); !s.empty())
            msg += " (did you mean $" + s + "?)";
        tools_.ctx.lint("UndefinedVar", node.start_line, msg);
    }
}

void StageLowerer::check_secret_key(const Node& node, const std::string& key) {
    static const std::vector<std::string> deny = {"apikey", "auth",     "credential", "credentials",
                                                  "key",    "password", "pword",      "passwd",
                                                  "secret", "token"};
    auto has_token = [&](const std::vector<std::string>& tokens) {
        std::string l = ascii_lower(key);
        std::vector<std::string> parts;
        std::stringstream ss(l);
        std::string part;
        while (std::getline(ss, part, '_'))
            parts.push_back(part);
        if (!l.empty() && l.back() == '_')
            parts.push_back("");
        if (parts.empty())
            return false;
        // The regexp (?:_|^)(token)(?:_|$) matches a whole '_'-separated word.
        for (const auto& t : tokens) {
            if (std::find(parts.begin(), parts.end(), t) != parts.end())
                return true;
        }
        return false;
    };
    if (has_token(deny) && !has_token({"public"}))
        tools_.ctx.lint("SecretsUsedInArgOrEnv", node.start_line,
                        "Do not use ARG or ENV instructions for sensitive data (" +
                            ascii_upper(node.keyword) + " " + go_quote(key) + ")");
}

Step& StageLowerer::add_step(const Node& node, Step::Kind kind, std::string created_by) {
    Step s;
    s.kind = kind;
    s.keyword = ascii_upper(node.keyword);
    s.text = (trigger_ ? "ONBUILD " : "") + node.original;
    s.created_by = std::move(created_by);
    s.line = node.start_line;
    if (kind == Step::Kind::run) {
        s.env = state_.env.snapshot();  // only a process sees it
    }
    s.user = stage_.settings.user;
    s.workdir_in_effect = stage_.settings.working_dir.empty() ? "/" : stage_.settings.working_dir;
    stage_.steps.push_back(std::move(s));
    return stage_.steps.back();
}

std::vector<std::string> StageLowerer::shell_words() const {
    const auto& sh = stage_.settings.shell;
    if (sh && !sh->empty())
        return *sh;
    return {"/bin/sh", "-c"};
}

void StageLowerer::start_from_context(const Node& from) {
    Step& s = add_step(from, Step::Kind::copy, "COPY / / # named context " + stage_.base_context);
    s.copy.from = stage_.base_context;
    s.copy.from_context = stage_.base_context;
    s.copy.sources = {"."};
    s.copy.dest = "/";
    s.copy.dest_is_dir = true;
}

StageLowerer::FromSource StageLowerer::from_source(const Node& node, const std::string& from,
                                                   bool mount, const std::string& target) {
    FromSource out;
    out.stage = tools_.graph.resolve_stage(node, from, stage_.index, mount, target);
    if (out.stage >= 0) {
        add_dep(out.stage);
        return out;
    }
    const NamedContext* nc = tools_.ctx.named_context(from);
    if (nc && nc->kind == NamedContext::Kind::local)
        out.context = nc->value;
    else
        out.image = nc ? nc->value : from;
    return out;
}

void StageLowerer::add_dep(int index) {
    auto& deps = stage_.deps;
    if (std::find(deps.begin(), deps.end(), index) == deps.end()) {
        deps.push_back(index);
        std::sort(deps.begin(), deps.end());
    }
}

}  // namespace kiln::frontend
