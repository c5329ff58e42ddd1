// WORKDIR as an Op: makes the directory (and missing parents) owned by the USER
// in effect, as BuildKit's Mkdir WithUser (run_mkdir in copy_op.h). No layer
// when the directory already exists.
#pragma once

#include "solver/op.h"

namespace kiln::solver {

class MkdirOp : public Op {
  public:
    explicit MkdirOp(const frontend::Step& step) : step_(step) {}
    nlohmann::json cache_key(OpEnv& env) override;
    bool execute(const std::filesystem::path& root, OpEnv& env) override;

  private:
    const frontend::Step& step_;
};

}  // namespace kiln::solver
