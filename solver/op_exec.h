// RUN as an Op: the command runs through the build's Executor (run_step in
// run_op.h), on the step's snapshot, with its mounts.
//
// Key: the command and everything the process sees — env and build args, user,
// working directory, network (the step's and the build's default), security,
// mounts with the content behind bind mounts (a stage's key, an image's digest,
// the context files' digests) — never a secret's value.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sandbox/executor.h"
#include "solver/op.h"
#include "solver/run_op.h"

namespace kiln::solver {

// What every RUN of a build shares: where it runs and the build's RUN policy.
struct RunPolicy {
    sandbox::Executor* executor = nullptr;
    std::string default_network;  // "" (private), "host" or "none"
    std::map<std::string, SecretSource> secrets;
    std::string ssh_socket;
    std::filesystem::path cache_mounts;
    sandbox::BuildSettings settings;  // --add-host, --shm-size, --ulimit
};

class ExecOp : public Op {
  public:
    ExecOp(const frontend::Step& step, const RunPolicy& policy) : step_(step), policy_(policy) {}
    std::vector<int> reads() const override;
    bool waits() const override { return true; }
    nlohmann::json cache_key(OpEnv& env) override;
    bool execute(const std::filesystem::path& root, OpEnv& env) override;

  private:
    const frontend::Step& step_;
    const RunPolicy& policy_;
};

// The "op" part of a RUN's key; `input(m)` is the content key of what mount
// `m` binds ("" for mounts without such input).
nlohmann::json run_key(const frontend::Step& step,
                       const std::function<std::string(const frontend::MountSpec&)>& input);

}  // namespace kiln::solver
