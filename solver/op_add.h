// ADD as an Op: COPY's sources plus URLs, git repositories and local archives
// (add_op.h). Its URLs and repositories are fetched when the key is computed,
// so the key covers their content; execute() then uses what was fetched.
#pragma once

#include <optional>
#include <vector>

#include "solver/add_op.h"
#include "solver/op.h"

namespace kiln::solver {

class AddOp : public Op {
  public:
    explicit AddOp(const frontend::CopySpec& spec) : spec_(spec) {}
    std::vector<int> reads() const override;
    bool linked() const override { return spec_.link; }
    nlohmann::json cache_key(OpEnv& env) override;
    bool execute(const std::filesystem::path& root, OpEnv& env) override;

  private:
    const frontend::CopySpec& spec_;
    std::optional<AddInputs> inputs_;  // fetched by cache_key()
};

}  // namespace kiln::solver
