// A test Executor (sandbox/executor.h): runs nothing. It records every request
// (argv, env, user, cwd, mounts, network, security) and applies a scripted
// result: files written or removed — in the rootfs, or in a mount's source when
// the path lies under that mount's destination, as the process would see it —
// output lines, and an exit code. So RUN's semantics and its effect on layers
// and cache keys are testable without root, runc or a network.
//
// Scripts are matched by a substring of the space-joined argv; the last one
// added that matches wins; no match = exit 0 changing nothing.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox/executor.h"

namespace kiln::testing {

// One request as the executor received it, plus what the mounted regular
// files (secrets, heredoc scripts) held while it ran.
struct RecordedRun {
    std::filesystem::path rootfs;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd;
    sandbox::User user;
    std::vector<sandbox::Mount> mounts;
    sandbox::RunOptions::Network network = sandbox::RunOptions::Network::none;
    bool insecure = false;
    std::map<std::string, std::string> mounted_files;  // destination → content

    std::string command() const {
        std::string out;
        for (const auto& a : args)
            out += (out.empty() ? "" : " ") + a;
        return out;
    }
    // The value of `name` in env (the last definition), nullopt when absent.
    std::optional<std::string> env_value(const std::string& name) const {
        std::optional<std::string> v;
        for (const auto& e : env)
            if (e.compare(0, name.size() + 1, name + "=") == 0)
                v = e.substr(name.size() + 1);
        return v;
    }
    const sandbox::Mount* mount_at(const std::string& destination) const {
        for (const auto& m : mounts)
            if (m.destination == destination)
                return &m;
        return nullptr;
    }
};

struct Script {
    std::map<std::string, std::string> writes;  // absolute path in the container → content
    std::vector<std::string> removes;           // absolute paths, removed recursively
    std::vector<std::string> output;            // lines sent to on_output
    int exit_code = 0;
    // Runs after the writes, with the host path of a container path at hand.
    std::function<void(const sandbox::ExecRequest&,
                       const std::function<std::filesystem::path(const std::string&)>& host)>
        then;
};

class FakeExecutor : public sandbox::Executor {
  public:
    void on(std::string match, Script script) {
        std::lock_guard lock(mu_);
        scripts_.emplace_back(std::move(match), std::move(script));
    }

    sandbox::RunResult run(const sandbox::ExecRequest& r) override {
        RecordedRun rec{r.rootfs, r.args,    r.env,      r.cwd, r.user,
                        r.mounts, r.network, r.insecure, {}};
        for (const auto& m : r.mounts)
            if (std::filesystem::is_regular_file(m.source))
                rec.mounted_files[m.destination] = read(m.source);
        std::optional<Script> script;
        {
            std::lock_guard lock(mu_);
            runs_.push_back(rec);
            for (const auto& [match, s] : scripts_)
                if (rec.command().find(match) != std::string::npos)
                    script = s;
        }
        if (!script)
            return {};
        auto host = [&](const std::string& p) { return host_path(r, p); };
        for (const auto& path : script->removes)
            std::filesystem::remove_all(host(path));
        for (const auto& [path, content] : script->writes) {
            auto file = host(path);
            std::filesystem::create_directories(file.parent_path());
            std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
        }
        if (script->then)
            script->then(r, host);
        for (const auto& line : script->output)
            if (r.on_output)
                r.on_output(line);
        sandbox::RunResult result;
        result.exit_code = script->exit_code;
        return result;
    }

    // no_more_runs(): how many runs had been asked for at each call.
    void no_more_runs() noexcept override {
        std::lock_guard lock(mu_);
        no_more_runs_after_.push_back(runs_.size());
    }
    std::vector<size_t> no_more_runs_after() const {
        std::lock_guard lock(mu_);
        return no_more_runs_after_;
    }

    std::vector<RecordedRun> runs() const {
        std::lock_guard lock(mu_);
        return runs_;
    }
    size_t calls() const {
        std::lock_guard lock(mu_);
        return runs_.size();
    }
    // The recorded run whose command contains `match` (the last such run).
    std::optional<RecordedRun> run_of(const std::string& match) const {
        std::lock_guard lock(mu_);
        for (auto it = runs_.rbegin(); it != runs_.rend(); ++it)
            if (it->command().find(match) != std::string::npos)
                return *it;
        return std::nullopt;
    }

    // Where the process would find container path `path`: under the mount
    // with the longest destination that holds it, else in the rootfs. Links
    // in the rootfs are not followed: the tests' paths are plain.
    static std::filesystem::path host_path(const sandbox::ExecRequest& r, const std::string& path) {
        const sandbox::Mount* best = nullptr;
        for (const auto& m : r.mounts) {
            const std::string& d = m.destination;
            bool under = path == d || (path.compare(0, d.size(), d) == 0 &&
                                       (d.back() == '/' || path[d.size()] == '/'));
            if (under && m.type == "bind" && (!best || d.size() > best->destination.size()))
                best = &m;
        }
        if (best) {
            std::string rest = path.substr(best->destination.size());
            while (!rest.empty() && rest.front() == '/')
                rest.erase(0, 1);
            return rest.empty() ? std::filesystem::path(best->source)
                                : std::filesystem::path(best->source) / rest;
        }
        return r.rootfs / std::filesystem::path(path).relative_path();
    }

  private:
    static std::string read(const std::filesystem::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    mutable std::mutex mu_;
    std::vector<std::pair<std::string, Script>> scripts_;
    std::vector<size_t> no_more_runs_after_;
    std::vector<RecordedRun> runs_;
};

}  // namespace kiln::testing
