#include "solver/op_exec.h"

#include <sys/stat.h>

#include <memory>
#include <stdexcept>

#include "base/error.h"
#include "solver/copy_op.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

// The entry a mount's source names. A wildcard matching nothing is as missing as
// any other source (resolve() throws for those itself).
ContextSource mount_entry(const BuildContext& tree, const std::string& source,
                          const std::string& where) {
    auto found = tree.resolve(source);
    if (found.empty()) {
        const auto rel = source.find_first_not_of('/');
        throw Error("\"/" + (rel == std::string::npos ? "" : source.substr(rel)) +
                    "\": not found in " + where);
    }
    return found.front();
}

// What a bind of a context (the build's or a named one) shows: the context COPY
// sees, as BuildKit mounts its transferred copy. A directory is then copied into
// `scratch` when .dockerignore has rules, so that what it leaves out (a secret, a
// checkout's .git) is not there to read or to copy into the image; owners become
// root's, as BuildKit's transfer makes them. A file source is bound as it is:
// resolve() already counts an ignored one as absent.
fs::path context_view(const BuildContext& context, const std::string& source,
                      const fs::path& scratch) {
    const std::string src = source.empty() || source == "/" ? "." : source;
    const ContextSource at = mount_entry(context, src, "the build context");
    struct stat st;
    if (!context.has_ignore_rules() || ::stat(at.host_path.c_str(), &st) != 0 ||
        !S_ISDIR(st.st_mode))
        return at.host_path;
    fs::remove_all(scratch);
    fs::create_directories(scratch);
    frontend::CopySpec spec;
    spec.sources = {at.rel.empty() ? "." : at.rel};
    spec.dest = "/";
    spec.dest_is_dir = true;
    run_copy(spec, context, scratch);
    return scratch;
}

}  // namespace

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
    int views = 0;
    rc.mount_source = [&](const frontend::MountSpec& m) -> fs::path {
        const fs::path scratch = env.work_dir() / ("context-view-" + std::to_string(++views));
        if (!m.from_context.empty())
            return context_view(env.named_context(m.from_context).context, m.source, scratch);
        if (m.from_stage < 0 && m.from.empty())
            return context_view(env.context(), m.source, scratch);
        fs::path base;
        if (m.from_stage >= 0)
            base = env.stage_view(m.from_stage);
        else  // an image from the store
            base = env.image_view(*env.resolve_image(m.from));
        if (m.source.empty() || m.source == "." || m.source == "/")
            return base;
        return mount_entry(BuildContext(base, {}), m.source, m.from).host_path;
    };
    run_step(step_, rc);
    return true;
}

}  // namespace kiln::solver
