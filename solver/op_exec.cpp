#include "solver/op_exec.h"

#include <memory>
#include <stdexcept>

#include "base/error.h"

namespace kiln::solver {

namespace fs = std::filesystem;

nlohmann::json run_key(const frontend::Step& step,
                       const std::function<std::string(const frontend::MountSpec&)>& input) {
    const auto& r = step.run;
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : r.mounts) {
        mounts.push_back({{"type", m.type},
                          {"target", m.target},
                          {"source", m.source},
                          {"from", m.from},
                          {"ro", m.readonly},
                          {"id", m.id},
                          {"mode", m.mode},
                          {"uid", m.uid},
                          {"gid", m.gid},
                          {"env", m.env},
                          {"input", input(m)}});
    }
    std::vector<std::string> heredocs;
    for (const auto& h : r.heredocs)
        heredocs.push_back(h.name + "\n" + h.content);
    return {{"run", r.args},
            {"env", step.env.entries()},
            {"args", r.build_args},
            {"user", step.user},
            {"cwd", step.workdir_in_effect},
            {"network", r.network},
            {"security", r.security},
            {"mounts", mounts},
            {"heredocs", heredocs}};
}

std::vector<int> ExecOp::reads() const {
    std::vector<int> out;
    for (const auto& m : step_.run.mounts)
        if (m.from_stage >= 0)
            out.push_back(m.from_stage);
    return out;
}

nlohmann::json ExecOp::cache_key(OpEnv& env) {
    auto input = [&](const frontend::MountSpec& m) -> std::string {
        if (m.from_stage >= 0)
            return env.stage_key(m.from_stage).str();
        if (!m.from_context.empty()) {
            const NamedContext& named = env.named_context(m.from_context);
            return named.context.sources_digest({m.source.empty() ? "." : m.source}, *named.stats)
                .str();
        }
        if (m.type == "bind" && m.from.empty())
            return env.context()
                .sources_digest({m.source.empty() ? "." : m.source}, env.stats(), {},
                                env.summary_files())
                .str();
        if (!m.from.empty()) {  // an image
            auto image = env.resolve_image(m.from);
            if (!image)
                throw Error("RUN --mount from=" + m.from +
                            ": no such stage, and no such image in the local store");
            return image->descriptor.digest.str();
        }
        return std::string();
    };
    nlohmann::json key = {{"default_network", policy_.default_network},
                          {"op", run_key(step_, input)}};
    // As BuildKit's exec op holds them; absent when unset, so keys stay as they were.
    const auto& s = policy_.settings;
    if (!s.extra_hosts.empty())
        key["extra_hosts"] = s.extra_hosts;
    if (s.shm_size)
        key["shm_size"] = s.shm_size;
    for (const auto& r : s.ulimits)
        key["ulimits"].push_back({r.type, r.soft, r.hard});
    return key;
}

bool ExecOp::execute(const fs::path& root, OpEnv& env) {
    if (!policy_.executor)
        throw std::logic_error("solve() needs an executor to run a RUN step");
    RunContext rc;
    rc.root = root;
    rc.work_dir = env.work_dir() / "run";
    rc.cache_mounts = policy_.cache_mounts;
    rc.secrets = policy_.secrets;
    rc.ssh_socket = policy_.ssh_socket;
    rc.executor = policy_.executor;
    rc.default_network = policy_.default_network;
    rc.settings = policy_.settings;
    rc.cancel = &env.cancel();
    rc.on_output = [&](std::string_view line) { env.log(line); };
    rc.mount_source = [&](const frontend::MountSpec& m) -> fs::path {
        fs::path base;
        if (m.from_stage >= 0)
            base = env.stage_view(m.from_stage);
        else if (!m.from_context.empty())
            base = env.named_context(m.from_context).context.root();
        else if (!m.from.empty())  // an image from the store
            base = env.image_view(*env.resolve_image(m.from));
        else
            base = env.context().root();
        if (m.source.empty() || m.source == "." || m.source == "/")
            return base;
        BuildContext scoped(base, {});
        auto found = scoped.resolve(m.source);
        return found.at(0).host_path;
    };
    run_step(step_, rc);
    return true;
}

}  // namespace kiln::solver
