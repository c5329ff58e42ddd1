#include "solver/run_op.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/error.h"
#include "content/atomic_file.h"
#include "content/digest.h"
#include "content/file_lock.h"
#include "solver/file_copy.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

std::string command_text(const frontend::Step& step) {
    std::string out;
    for (const auto& a : step.run.args)
        out += (out.empty() ? "" : " ") + a;
    return out;
}

unsigned parse_octal(const std::string& s, unsigned fallback) {
    if (s.empty())
        return fallback;
    try {
        return static_cast<unsigned>(std::stoul(s, nullptr, 8));
    } catch (const std::exception&) {
        throw Error("invalid mount mode \"" + s + "\"");
    }
}

unsigned parse_id(const std::string& s) {
    if (s.empty())
        return 0;
    try {
        return static_cast<unsigned>(std::stoul(s));
    } catch (const std::exception&) {
        throw Error("invalid mount uid/gid \"" + s + "\"");
    }
}

// ENV, then the build args a RUN can see, ENV winning.
std::vector<std::string> process_env(const frontend::Step& step) {
    std::vector<std::string> env;
    const auto step_env = step.env.entries();
    for (const auto& [k, v] : step_env)
        env.push_back(k + "=" + v);
    for (const auto& [k, v] : step.run.build_args) {
        bool shadowed = false;
        for (const auto& [ek, ev] : step_env)
            shadowed |= ek == k;
        if (!shadowed)
            env.push_back(k + "=" + v);
    }
    return env;
}

sandbox::RunOptions::Network network_of(const frontend::RunSpec& spec, const RunContext& ctx) {
    const std::string& network =
        spec.network.empty() || spec.network == "default" ? ctx.default_network : spec.network;
    // Entitlements were checked before the build started (solve.cpp).
    if (network == "none")
        return sandbox::RunOptions::Network::none;
    if (network == "host")
        return sandbox::RunOptions::Network::host;
    // The build's private network: the executor makes it on first use.
    return sandbox::RunOptions::Network::private_ns;
}

// What one RUN's --mount flags put into its sandbox: the mounts, the
// environment they add, and the cache locks held while the command runs.
class MountPlan {
  public:
    MountPlan(const RunContext& ctx, sandbox::RunOptions& opts) : ctx_(ctx), opts_(opts) {}

    // `n` numbers the mount (1-based) for its scratch files and ssh socket name.
    void add(const frontend::MountSpec& m, int n) {
        if (m.type == "bind")
            bind(m, n);
        else if (m.type == "cache")
            cache(m, n);
        else if (m.type == "tmpfs")
            tmpfs(m);
        else if (m.type == "secret")
            secret(m, n);
        else if (m.type == "ssh")
            ssh(m, n);
        else
            throw Error("unsupported mount type \"" + m.type + "\"");
    }

  private:
    void bind(const frontend::MountSpec& m, int n) {
        fs::path src = ctx_.mount_source(m);
        if (!m.readonly) {
            // Writes through an rw bind are discarded, as BuildKit does: bind a copy.
            auto copy = ctx_.work_dir / ("bind-" + std::to_string(n));
            copy_tree(src, copy, merge_options());
            src = copy;
        }
        opts_.mounts.push_back(
            {m.target, "bind", src.string(), {"rbind", m.readonly ? "ro" : "rw"}});
    }

    void cache(const frontend::MountSpec& m, int n) {
        std::string id = m.id.empty() ? m.target : m.id;
        auto dir = ctx_.cache_mounts / std::string(content::Digest::of(id).hex());
        if (!fs::exists(dir)) {
            fs::create_directories(dir);
            ::chmod(dir.c_str(), parse_octal(m.mode, 0755));
            if (::chown(dir.c_str(), parse_id(m.uid), parse_id(m.gid)) != 0 && ::geteuid() == 0)
                throw errno_error("cannot chown cache mount " + dir.string());
        }
        // A use: the collector removes least recently used cache mounts first.
        ::utimensat(AT_FDCWD, dir.c_str(), nullptr, 0);
        if (m.sharing == "locked")
            locks_.push_back(std::make_unique<FileLock>(dir.string() + ".lock"));
        fs::path src = dir;
        if (m.sharing == "private") {
            auto copy = ctx_.work_dir / ("cache-" + std::to_string(n));
            copy_tree(dir, copy, merge_options());
            src = copy;
        }
        opts_.mounts.push_back(
            {m.target, "bind", src.string(), {"rbind", m.readonly ? "ro" : "rw"}});
    }

    void tmpfs(const frontend::MountSpec& m) {
        std::vector<std::string> o = {"nosuid", "nodev"};
        if (!m.size.empty())
            o.push_back("size=" + m.size);
        opts_.mounts.push_back({m.target, "tmpfs", "tmpfs", o});
    }

    void secret(const frontend::MountSpec& m, int n) {
        std::string id = m.id.empty() ? fs::path(m.target).filename().string() : m.id;
        auto it = ctx_.secrets.find(id);
        if (it == ctx_.secrets.end()) {
            if (m.required)
                throw Error("secret " + id + " is required but was not given (--secret id=" + id +
                            ",src=...)");
            return;
        }
        std::string value = it->second.file.empty() ? it->second.value : read_file(it->second.file);
        if (!m.env.empty())
            opts_.env.push_back(m.env + "=" + value);
        if (!m.env.empty() && m.target.empty())
            return;
        auto file = ctx_.work_dir / ("secret-" + std::to_string(n));
        write_file_atomic(file, value, parse_octal(m.mode, 0400));
        if (::chown(file.c_str(), parse_id(m.uid), parse_id(m.gid)) != 0 && ::geteuid() == 0)
            throw errno_error("cannot chown secret file");
        std::string target = m.target.empty() ? "/run/secrets/" + id : m.target;
        opts_.mounts.push_back({target, "bind", file.string(), {"rbind", "ro"}});
    }

    void ssh(const frontend::MountSpec& m, int n) {
        if (ctx_.ssh_socket.empty()) {
            if (m.required)
                throw Error("RUN --mount=type=ssh needs --ssh default (and SSH_AUTH_SOCK)");
            return;
        }
        std::string target =
            m.target.empty() ? "/run/buildkit/ssh_agent." + std::to_string(n - 1) : m.target;
        opts_.mounts.push_back({target, "bind", ctx_.ssh_socket, {"rbind", "ro"}});
        opts_.env.push_back("SSH_AUTH_SOCK=" + target);
    }

    const RunContext& ctx_;
    sandbox::RunOptions& opts_;
    std::vector<std::unique_ptr<FileLock>> locks_;  // held until the plan goes
};

}  // namespace

void run_step(const frontend::Step& step, const RunContext& ctx) {
    const frontend::RunSpec& spec = step.run;
    sandbox::RunOptions opts;
    opts.rootfs = ctx.root;
    opts.args = spec.args;
    opts.env = process_env(step);
    opts.cwd = step.workdir_in_effect.empty() ? "/" : step.workdir_in_effect;
    opts.user = sandbox::resolve_user(ctx.root, step.user.empty() ? "0" : step.user);
    opts.network = network_of(spec, ctx);
    opts.insecure = spec.security == "insecure";
    opts.settings = ctx.settings;
    opts.work_dir = ctx.work_dir / "sandbox";
    opts.on_output = ctx.on_output;
    opts.cancel = ctx.cancel;
    fs::create_directories(opts.work_dir);

    if (spec.heredoc_script && !spec.heredocs.empty()) {
        const auto& doc = spec.heredocs.front();
        auto file = ctx.work_dir / ("script-" + doc.name);
        write_file_atomic(file, doc.content, 0755);
        opts.mounts.push_back({"/dev/pipes/" + doc.name, "bind", file.string(), {"rbind", "ro"}});
    }
    MountPlan mounts(ctx, opts);  // its cache locks are held until the command ends
    int n = 0;
    for (const auto& m : spec.mounts)
        mounts.add(m, ++n);

    const sandbox::RunResult result = ctx.executor->run(opts);
    if (result.cancelled)
        throw Cancelled("RUN " + command_text(step) + ": cancelled");
    if (result.exit_code != 0) {
        throw Error(
            "process \"" + command_text(step) +
            "\" did not complete successfully: exit code: " + std::to_string(result.exit_code));
    }
}

}  // namespace kiln::solver
