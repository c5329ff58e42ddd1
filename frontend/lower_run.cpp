// RUN: the command (exec form, shell form or heredoc script), its --mount, --network and
// --security, the build args it sees and its history text.
#include <map>

#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/lower_stage.h"
#include "frontend/run_mounts.h"

namespace kiln::frontend {

void StageLowerer::apply(const Node& node, const RunInstruction& in) {
    const LowerContext& ctx = tools_.ctx;
    RunSpec spec;
    int ssh_index = 0;
    for (const auto& v : in.mounts) {
        MountSpec m = parse_mount(
            node, v, ssh_index, stage_.settings.working_dir,
            [&](const std::string& word) { return expand(node, word); }, ctx);
        if (!m.from.empty()) {
            FromSource src = from_source(node, m.from, true, m.target);
            if (!src.image.empty())
                m.from = src.image;
            m.from_stage = src.stage;
            m.from_image = std::move(src.image);
            m.from_context = std::move(src.context);
        }
        if (m.type == "ssh")
            ++ssh_index;
        spec.mounts.push_back(std::move(m));
    }
    if (in.network) {
        std::string n = ascii_lower(*in.network);
        if (n != "default" && n != "none" && n != "host")
            ctx.fail(node, "unsupported network mode " + go_quote(*in.network));
        spec.network = n == "default" ? "" : n;
    }
    if (in.security) {
        std::string s = ascii_lower(*in.security);
        if (s != "sandbox" && s != "insecure")
            ctx.fail(node, "unsupported security mode " + go_quote(*in.security));
        spec.security = s;
    }
    for (const Heredoc& h : node.heredocs) {
        spec.heredocs.push_back(
            {h.name, h.chomp_tabs ? chomp_heredoc_content(h.content) : h.content});
    }
    if (node.json_form) {
        spec.args = node.args;
        spec.shell_form = false;
    } else if (!node.heredocs.empty()) {
        std::string line = node.args[0];
        std::string trimmed = line;
        trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
        std::optional<Heredoc> whole;
        try {
            whole = parse_heredoc(trimmed);
        } catch (const DockerfileError&) {
            whole.reset();
        }
        if (whole) {
            const HeredocFile& f = spec.heredocs.front();
            if (f.content.starts_with("#!")) {
                spec.heredoc_script = true;
                spec.shell_form = false;
                spec.args = {"/dev/pipes/" + f.name};
            } else {
                spec.args = shell_words();
                spec.args.push_back(f.content);
            }
        } else {
            std::string full = line;
            for (const Heredoc& h : node.heredocs)
                full += "\n" + h.content + h.name;
            spec.args = shell_words();
            spec.args.push_back(full);
        }
    } else {
        spec.args = shell_words();
        spec.args.push_back(node.args[0]);
    }
    // Declared ARGs as BuildKit's runCommandString lists them, then proxies.
    std::vector<std::string> hist;
    std::map<std::string, size_t> idx;
    for (const auto& [name, value] : state_.build_args) {
        std::string v = std::string(state_.env.get(name).value_or(value.value_or("")));
        if (auto it = idx.find(name); it != idx.end()) {
            spec.build_args[it->second].second = v;
            hist[it->second] = name + "=" + v;
        } else {
            idx[name] = spec.build_args.size();
            spec.build_args.emplace_back(name, v);
            hist.push_back(name + "=" + v);
        }
    }
    for (const auto& name : proxy_args()) {
        auto it = ctx.options.build_args.find(name);
        if (it != ctx.options.build_args.end() && !idx.count(name))
            spec.build_args.emplace_back(name, it->second);
    }
    std::string msg = "RUN ";
    if (!hist.empty())
        msg += "|" + std::to_string(hist.size()) + " " + join(hist, " ") + " ";
    msg += join(spec.args, " ") + " # buildkit";
    Step& s = add_step(node, Step::Kind::run, msg);
    s.run = std::move(spec);
}

}  // namespace kiln::frontend
