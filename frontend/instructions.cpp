#include "frontend/instructions.h"

#include "frontend/ascii.h"
#include "frontend/flags.h"
#include "frontend/go_compat.h"

namespace kiln::frontend {
namespace {

using Type = FlagSpec::Type;

// ENV and LABEL words come as (key, value, separator) triples.
std::vector<std::pair<std::string, std::string>> key_values(const Node& node) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i + 1 < node.args.size(); i += 3)
        pairs.emplace_back(node.args[i], node.args[i + 1]);
    return pairs;
}

// WORKDIR, USER, STOPSIGNAL: exactly one non-empty word.
std::string one_word(const Node& node, const char* name, const LowerContext& ctx) {
    parse_flags(node, {}, ctx);
    if (node.args.size() != 1 || node.args[0].empty())
        ctx.fail(node, std::string(name) + " requires exactly one argument");
    return node.args[0];
}

// EXPOSE, VOLUME: at least one word.
std::vector<std::string> some_words(const Node& node, const char* name, const LowerContext& ctx) {
    parse_flags(node, {}, ctx);
    if (node.args.empty())
        ctx.fail(node, std::string(name) + " requires at least one argument");
    return node.args;
}

CommandInstruction parse_command(const Node& node, bool is_cmd, const LowerContext& ctx) {
    parse_flags(node, {}, ctx);
    CommandInstruction c;
    c.is_cmd = is_cmd;
    c.exec_form = node.json_form;
    if (node.json_form)
        c.words = node.args;
    else if (!node.args.empty())
        c.words = {node.args[0]};
    return c;
}

ShellInstruction parse_shell(const Node& node, const LowerContext& ctx) {
    parse_flags(node, {}, ctx);
    if (!node.json_form)
        ctx.fail(node, "SHELL requires the arguments to be in JSON form");
    if (node.args.empty())
        ctx.fail(node, "SHELL requires at least one argument");
    return {node.args};
}

HealthcheckInstruction parse_healthcheck(const Node& node, const LowerContext& ctx) {
    auto fl = parse_flags(node,
                          {{"interval", Type::string},
                           {"timeout", Type::string},
                           {"start-period", Type::string},
                           {"start-interval", Type::string},
                           {"retries", Type::string}},
                          ctx);
    if (node.args.empty())
        ctx.fail(node, "HEALTHCHECK requires an argument");
    ImageSettings::Healthcheck hc;
    std::string type = ascii_upper(node.args[0]);
    if (type == "NONE") {
        if (node.args.size() > 1 || !node.flags.empty())
            ctx.fail(node, "HEALTHCHECK NONE takes no arguments");
        hc.test = {"NONE"};
    } else if (type == "CMD") {
        if (node.args.size() < 2)
            ctx.fail(node, "Missing command after HEALTHCHECK CMD");
        if (node.json_form) {
            hc.test = {"CMD"};
            hc.test.insert(hc.test.end(), node.args.begin() + 1, node.args.end());
        } else {
            hc.test = {"CMD-SHELL", node.args[1]};
        }
    } else {
        ctx.fail(node, "Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
    }
    for (const auto& [name, value] : fl.str) {
        if (name == "retries") {
            try {
                size_t used = 0;
                hc.retries = std::stoi(value, &used);
                if (used != value.size())
                    throw std::invalid_argument("retries");
            } catch (const std::exception&) {
                ctx.fail(node, "invalid --retries value: " + value);
            }
            if (hc.retries < 0)
                ctx.fail(node, "--retries cannot be negative (" + value + ")");
            continue;
        }
        long long ns = parse_go_duration(value);
        if (ns < 0)
            ctx.fail(node, "invalid --" + name + " value: " + value);
        if (ns != 0 && ns < 1'000'000)
            ctx.fail(node, "Interval \"" + name + "\" cannot be less than 1ms");
        if (name == "interval")
            hc.interval_ns = ns;
        if (name == "timeout")
            hc.timeout_ns = ns;
        if (name == "start-period")
            hc.start_period_ns = ns;
        if (name == "start-interval")
            hc.start_interval_ns = ns;
    }
    return {hc};
}

// ONBUILD records the trigger as written, after the ONBUILD keyword.
OnbuildInstruction parse_onbuild(const Node& node, const LowerContext& ctx) {
    if (!node.onbuild)
        ctx.fail(node, "ONBUILD requires at least one argument");
    const std::string& kw = node.onbuild->keyword;
    if (kw == "onbuild")
        ctx.fail(node, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (kw == "from" || kw == "maintainer")
        ctx.fail(node, ascii_upper(kw) + " isn't allowed as an ONBUILD trigger");
    std::string text = node.original;
    auto pos = ascii_lower(text).find("onbuild");
    text = text.substr(pos + 7);
    text.erase(0, text.find_first_not_of(" \t"));
    return {text};
}

RunInstruction parse_run(const Node& node, const LowerContext& ctx) {
    auto fl = parse_flags(
        node, {{"mount", Type::multi}, {"network", Type::string}, {"security", Type::string}}, ctx);
    if (node.args.empty() || (!node.json_form && node.args[0].empty() && node.heredocs.empty()))
        ctx.fail(node, "RUN requires at least one argument");
    RunInstruction r;
    r.mounts = fl.all("mount");
    if (fl.str.count("network"))
        r.network = fl.get("network");
    if (fl.str.count("security"))
        r.security = fl.get("security");
    return r;
}

CopyInstruction parse_copy(const Node& node, bool is_add, const LowerContext& ctx) {
    Flags fl = is_add ? parse_flags(node,
                                    {{"chown", Type::string},
                                     {"chmod", Type::string},
                                     {"link", Type::boolean},
                                     {"keep-git-dir", Type::boolean},
                                     {"checksum", Type::string},
                                     {"unpack", Type::boolean},
                                     {"exclude", Type::multi}},
                                    ctx)
                      : parse_flags(node,
                                    {{"from", Type::string},
                                     {"chown", Type::string},
                                     {"chmod", Type::string},
                                     {"link", Type::boolean},
                                     {"parents", Type::boolean},
                                     {"exclude", Type::multi}},
                                    ctx);
    if (node.args.size() < 2)
        ctx.fail(node, std::string(is_add ? "ADD" : "COPY") +
                           " requires at least two arguments, but only one was provided. "
                           "Destination could not be determined");
    CopyInstruction c;
    c.is_add = is_add;
    if (fl.str.count("from"))
        c.from = fl.get("from");
    c.chown = fl.get("chown");
    c.chmod = fl.get("chmod");
    c.checksum = fl.get("checksum");
    c.link = fl.on("link");
    c.parents = fl.on("parents");
    c.keep_git_dir = fl.on("keep-git-dir");
    if (fl.boolean.count("unpack"))
        c.unpack = fl.on("unpack");
    c.excludes = fl.all("exclude");
    return c;
}

}  // namespace

FromInstruction parse_from(const Node& node, const LowerContext& ctx) {
    auto fl = parse_flags(node, {{"platform", Type::string}}, ctx);
    if (node.args.size() != 1 && node.args.size() != 3)
        ctx.fail(node, "FROM requires either one or three arguments");
    if (node.args.size() == 3 && ascii_lower(node.args[1]) != "as")
        ctx.fail(node, "FROM requires either one or three arguments");
    FromInstruction f;
    f.base = node.args[0];
    if (fl.str.count("platform"))
        f.platform = fl.get("platform");
    if (node.args.size() == 3)
        f.name = node.args[2];
    return f;
}

ArgInstruction parse_arg(const Node& node, const LowerContext& ctx) {
    parse_flags(node, {}, ctx);
    if (node.args.empty())
        ctx.fail(node, "ARG requires at least one argument");
    ArgInstruction a;
    for (const auto& word : node.args) {
        auto eq = word.find('=');
        std::string name = word.substr(0, eq);
        if (name.empty())
            ctx.fail(node, "ARG names can not be blank");
        std::optional<std::string> value;
        if (eq != std::string::npos)
            value = word.substr(eq + 1);
        a.args.push_back({name, value});
    }
    return a;
}

Instruction parse_instruction(const Node& node, const LowerContext& ctx) {
    const std::string& kw = node.keyword;
    if (kw == "env") {
        parse_flags(node, {}, ctx);
        if (node.args.size() < 2)
            ctx.fail(node, "ENV requires at least one argument");
        return EnvInstruction{key_values(node)};
    }
    if (kw == "label") {
        parse_flags(node, {}, ctx);
        return LabelInstruction{key_values(node)};
    }
    if (kw == "arg")
        return parse_arg(node, ctx);
    if (kw == "workdir")
        return WorkdirInstruction{one_word(node, "WORKDIR", ctx)};
    if (kw == "user")
        return UserInstruction{one_word(node, "USER", ctx)};
    if (kw == "stopsignal")
        return StopsignalInstruction{one_word(node, "STOPSIGNAL", ctx)};
    if (kw == "maintainer") {
        parse_flags(node, {}, ctx);
        if (node.args.size() != 1)
            ctx.fail(node, "MAINTAINER requires exactly one argument");
        return MaintainerInstruction{node.args[0]};
    }
    if (kw == "expose")
        return ExposeInstruction{some_words(node, "EXPOSE", ctx)};
    if (kw == "volume")
        return VolumeInstruction{some_words(node, "VOLUME", ctx)};
    if (kw == "cmd" || kw == "entrypoint")
        return parse_command(node, kw == "cmd", ctx);
    if (kw == "shell")
        return parse_shell(node, ctx);
    if (kw == "healthcheck")
        return parse_healthcheck(node, ctx);
    if (kw == "onbuild")
        return parse_onbuild(node, ctx);
    if (kw == "copy" || kw == "add")
        return parse_copy(node, kw == "add", ctx);
    if (kw == "run")
        return parse_run(node, ctx);
    if (kw == "from")
        ctx.fail(node, "FROM isn't allowed as an ONBUILD trigger");
    ctx.fail(node, "unknown instruction: " + ascii_upper(kw));
}

}  // namespace kiln::frontend
