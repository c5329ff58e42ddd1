#include "solver/run_op.h"

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

}  // namespace

void run_step(const frontend::Step& step, const RunContext& ctx) {
    const frontend::RunSpec& spec = step.run;
    sandbox::RunOptions opts;
    opts.rootfs = ctx.root;
    opts.args = spec.args;
    for (const auto& [k, v] : step.env)
        opts.env.push_back(k + "=" + v);
    // Build args a RUN can see are in its environment, ENV winning.
    for (const auto& [k, v] : spec.build_args) {
        bool shadowed = false;
        for (const auto& [ek, ev] : step.env)
            shadowed |= ek == k;
        if (!shadowed)
            opts.env.push_back(k + "=" + v);
    }
    opts.cwd = step.workdir_in_effect.empty() ? "/" : step.workdir_in_effect;
    try {
        opts.user = sandbox::resolve_user(ctx.root, step.user.empty() ? "0" : step.user);
    } catch (const sandbox::SandboxError& e) {
        throw Error(e.what());
    }
    const std::string& network =
        spec.network.empty() || spec.network == "default" ? ctx.default_network : spec.network;
    // Entitlements were checked before the build started (solve.cpp).
    if (network == "none") {
        opts.network = sandbox::RunOptions::Network::none;
    } else if (network == "host") {
        opts.network = sandbox::RunOptions::Network::host;
    } else {
        // The build's private network: the executor makes it on first use.
        opts.network = sandbox::RunOptions::Network::private_ns;
    }
    opts.insecure = spec.security == "insecure";
    opts.work_dir = ctx.work_dir / "sandbox";
    opts.on_output = ctx.on_output;
    opts.cancel = ctx.cancel;
    fs::create_directories(opts.work_dir);

    // Locks held while the command runs (cache mounts with sharing=locked).
    std::vector<std::unique_ptr<FileLock>> locks;
    int n = 0;
    if (spec.heredoc_script && !spec.heredocs.empty()) {
        const auto& doc = spec.heredocs.front();
        auto file = ctx.work_dir / ("script-" + doc.name);
        write_file_atomic(file, doc.content, 0755);
        opts.mounts.push_back({"/dev/pipes/" + doc.name, "bind", file.string(), {"rbind", "ro"}});
    }
    for (const auto& m : spec.mounts) {
        ++n;
        if (m.type == "bind") {
            fs::path src = ctx.mount_source(m);
            if (!m.readonly) {
                // Writes through an rw bind are discarded, as BuildKit does: bind a copy.
                auto copy = ctx.work_dir / ("bind-" + std::to_string(n));
                copy_tree(src, copy, merge_options());
                src = copy;
            }
            opts.mounts.push_back(
                {m.target, "bind", src.string(), {"rbind", m.readonly ? "ro" : "rw"}});
        } else if (m.type == "cache") {
            std::string id = m.id.empty() ? m.target : m.id;
            auto dir = ctx.cache_mounts / std::string(content::Digest::of(id).hex());
            if (!fs::exists(dir)) {
                fs::create_directories(dir);
                ::chmod(dir.c_str(), parse_octal(m.mode, 0755));
                if (::chown(dir.c_str(), parse_id(m.uid), parse_id(m.gid)) != 0 && ::geteuid() == 0)
                    throw errno_error("cannot chown cache mount " + dir.string());
            }
            if (m.sharing == "locked")
                locks.push_back(std::make_unique<FileLock>(dir.string() + ".lock"));
            fs::path src = dir;
            if (m.sharing == "private") {
                auto copy = ctx.work_dir / ("cache-" + std::to_string(n));
                copy_tree(dir, copy, merge_options());
                src = copy;
            }
            opts.mounts.push_back(
                {m.target, "bind", src.string(), {"rbind", m.readonly ? "ro" : "rw"}});
        } else if (m.type == "tmpfs") {
            std::vector<std::string> o = {"nosuid", "nodev"};
            if (!m.size.empty())
                o.push_back("size=" + m.size);
            opts.mounts.push_back({m.target, "tmpfs", "tmpfs", o});
        } else if (m.type == "secret") {
            std::string id = m.id.empty() ? fs::path(m.target).filename().string() : m.id;
            auto it = ctx.secrets.find(id);
            if (it == ctx.secrets.end()) {
                if (m.required)
                    throw Error("secret " + id +
                                " is required but was not given (--secret id=" + id + ",src=...)");
                continue;
            }
            std::string value =
                it->second.file.empty() ? it->second.value : read_file(it->second.file);
            if (!m.env.empty())
                opts.env.push_back(m.env + "=" + value);
            if (!m.env.empty() && m.target.empty())
                continue;
            auto file = ctx.work_dir / ("secret-" + std::to_string(n));
            write_file_atomic(file, value, parse_octal(m.mode, 0400));
            if (::chown(file.c_str(), parse_id(m.uid), parse_id(m.gid)) != 0 && ::geteuid() == 0)
                throw errno_error("cannot chown secret file");
            std::string target = m.target.empty() ? "/run/secrets/" + id : m.target;
            opts.mounts.push_back({target, "bind", file.string(), {"rbind", "ro"}});
        } else if (m.type == "ssh") {
            if (ctx.ssh_socket.empty()) {
                if (m.required)
                    throw Error("RUN --mount=type=ssh needs --ssh default (and SSH_AUTH_SOCK)");
                continue;
            }
            std::string target =
                m.target.empty() ? "/run/buildkit/ssh_agent." + std::to_string(n - 1) : m.target;
            opts.mounts.push_back({target, "bind", ctx.ssh_socket, {"rbind", "ro"}});
            opts.env.push_back("SSH_AUTH_SOCK=" + target);
        } else {
            throw Error("unsupported mount type \"" + m.type + "\"");
        }
    }

    sandbox::RunResult result;
    try {
        result = ctx.executor->run(opts);
    } catch (const sandbox::SandboxError& e) {
        throw Error(e.what());
    }
    if (result.cancelled)
        throw Cancelled("RUN " + command_text(step) + ": cancelled");
    if (result.exit_code != 0) {
        throw Error(
            "process \"" + command_text(step) +
            "\" did not complete successfully: exit code: " + std::to_string(result.exit_code));
    }
}

}  // namespace kiln::solver
