// The instructions that change only the image settings (and the environment later steps
// see): ENV, LABEL, ARG, WORKDIR, USER, STOPSIGNAL, MAINTAINER, EXPOSE, VOLUME, CMD,
// ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD.
#include <set>
#include <stdexcept>

#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/go_compat.h"
#include "frontend/lower_stage.h"

namespace kiln::frontend {

void StageLowerer::apply(const Node& node, const EnvInstruction& in) {
    // Every pair sees the environment from before this instruction, as in
    // BuildKit: "ENV a=1 b=$a" gives b the old value of a.
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [raw_key, raw_value] : in.pairs) {
        std::string key = expand(node, raw_key);
        std::string value = expand(node, raw_value);
        if (key.empty())
            tools_.ctx.fail(node, "ENV names can not be blank");
        pairs.emplace_back(key, value);
    }
    std::string msg = "ENV";
    for (const auto& [key, value] : pairs) {
        check_secret_key(node, key);
        stage_.settings.set_env(key, value);
        state_.env.set(key, value);
        msg += " " + key + "=" + value;
    }
    add_step(node, Step::Kind::metadata, msg);
}

void StageLowerer::apply(const Node& node, const LabelInstruction& in) {
    std::string msg = "LABEL";
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [raw_key, raw_value] : in.pairs) {
        std::string key = expand(node, raw_key);
        std::string value = expand(node, raw_value);
        if (key.empty())
            tools_.ctx.fail(node, "LABEL names can not be blank");
        pairs.emplace_back(key, value);
    }
    for (const auto& [key, value] : pairs) {
        stage_.settings.labels[key] = value;
        msg += " " + key + "=" + value;
    }
    add_step(node, Step::Kind::metadata, msg);
}

// BuildKit's dispatchArg.
void StageLowerer::apply(const Node& node, const ArgInstruction& in) {
    std::vector<std::string> parts;
    for (const auto& [name, def] : in.args) {
        check_secret_key(node, name);
        std::optional<std::string> value = tools_.args.stage_value(
            name, def, [&](const std::string& word) { return expand(node, word); });
        if (value)
            state_.env.set(name, *value);
        state_.build_args.emplace_back(name, value);
        parts.push_back(value ? name + "=" + *value : name);
    }
    add_step(node, Step::Kind::metadata, "ARG " + join(parts, " "));
}

void StageLowerer::apply(const Node& node, const WorkdirInstruction& in) {
    std::string dir = expand(node, in.path);
    std::string path = join_abs_path(stage_.settings.working_dir, dir);
    Step& s = add_step(node, Step::Kind::workdir, "WORKDIR " + path);
    s.workdir = path;
    stage_.settings.working_dir = path;
}

void StageLowerer::apply(const Node& node, const UserInstruction& in) {
    stage_.settings.user = expand(node, in.user);
    add_step(node, Step::Kind::metadata, "USER " + stage_.settings.user);
}

void StageLowerer::apply(const Node& node, const StopsignalInstruction& in) {
    stage_.settings.stop_signal = expand(node, in.signal);
    add_step(node, Step::Kind::metadata, "STOPSIGNAL " + stage_.settings.stop_signal);
}

void StageLowerer::apply(const Node& node, const MaintainerInstruction& in) {
    stage_.settings.maintainer = in.name;
    add_step(node, Step::Kind::metadata, "MAINTAINER " + in.name);
}

void StageLowerer::apply(const Node& node, const ExposeInstruction& in) {
    std::set<std::string> mine;
    for (const auto& raw : in.ports) {
        std::vector<std::string> specs;
        try {
            specs = tools_.lex.process_words(raw, state_.env);
        } catch (const ExpansionError& e) {
            tools_.ctx.fail(node, e.what());
        }
        for (const auto& spec : specs) {
            std::string proto = "tcp";
            auto slash = spec.find('/');
            std::string ports = spec.substr(0, slash);
            if (slash != std::string::npos)
                proto = ascii_lower(spec.substr(slash + 1));
            if (proto != "tcp" && proto != "udp" && proto != "sctp")
                tools_.ctx.fail(node, "invalid proto: " + proto);
            auto dash = ports.find('-');
            try {
                size_t used = 0;
                int lo = std::stoi(ports.substr(0, dash), &used);
                if (used != ports.substr(0, dash).size())
                    throw std::invalid_argument("port");
                int hi = lo;
                if (dash != std::string::npos)
                    hi = std::stoi(ports.substr(dash + 1));
                if (lo < 0 || hi > 65535 || hi < lo)
                    throw std::invalid_argument("range");
                for (int p = lo; p <= hi; ++p)
                    mine.insert(std::to_string(p) + "/" + proto);
            } catch (const std::exception&) {
                tools_.ctx.fail(node, "invalid containerPort: " + ports);
            }
        }
    }
    stage_.settings.exposed_ports.insert(mine.begin(), mine.end());
    // Go prints map keys sorted as strings, like std::set does.
    std::string msg = "EXPOSE map[";
    bool first = true;
    for (const auto& p : mine) {
        msg += (first ? "" : " ") + p + ":{}";
        first = false;
    }
    add_step(node, Step::Kind::metadata, msg + "]");
}

void StageLowerer::apply(const Node& node, const VolumeInstruction& in) {
    std::vector<std::string> vols;
    for (const auto& raw : in.volumes) {
        std::string v = expand(node, raw);
        if (v.empty())
            tools_.ctx.fail(node, "VOLUME specified can not be an empty string");
        vols.push_back(v);
    }
    for (const auto& v : vols)
        stage_.settings.volumes.insert(v);
    add_step(node, Step::Kind::metadata, "VOLUME [" + join(vols, " ") + "]");
}

void StageLowerer::apply(const Node& node, const CommandInstruction& in) {
    std::vector<std::string> words;
    if (in.exec_form) {
        words = in.words;
    } else if (!in.words.empty()) {
        words = shell_words();
        words.push_back(in.words[0]);
    }
    if (in.is_cmd) {
        stage_.settings.cmd = words;
        stage_.settings.args_escaped = true;
        state_.cmd_set = true;
        add_step(node, Step::Kind::metadata, "CMD " + go_quote_list(words));
    } else {
        stage_.settings.entrypoint = words;
        // An ENTRYPOINT drops a CMD inherited from the base, not one set in this stage.
        if (!state_.cmd_set)
            stage_.settings.cmd.reset();
        add_step(node, Step::Kind::metadata, "ENTRYPOINT " + go_quote_list(words));
    }
}

void StageLowerer::apply(const Node& node, const ShellInstruction& in) {
    stage_.settings.shell = in.shell;
    add_step(node, Step::Kind::metadata, "SHELL [" + join(in.shell, " ") + "]");
}

void StageLowerer::apply(const Node& node, const HealthcheckInstruction& in) {
    stage_.settings.healthcheck = in.check;
    add_step(node, Step::Kind::metadata, "HEALTHCHECK " + go_quote_list(in.check.test));
}

// ONBUILD records the trigger in the image config; BuildKit writes no history.
void StageLowerer::apply(const Node&, const OnbuildInstruction& in) {
    stage_.settings.on_build.push_back(in.trigger);
}

}  // namespace kiln::frontend
