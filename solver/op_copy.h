// COPY as an Op: the files of the context, of a stage (--from=<stage>) or of
// an image (--from=<image>), copied by run_copy (copy_op.h).
//
// Key: the COPY's flags, destination and heredocs, and the content of what it
// reads — the context files it would copy (stat-cached digests), the key of
// the stage it copies from, or the image's manifest digest.
#pragma once

#include <optional>
#include <string>

#include "solver/copy_journal.h"

#include <memory>
#include <vector>

#include "solver/op.h"

namespace kiln::solver {

class CopyOp : public Op {
  public:
    explicit CopyOp(const frontend::CopySpec& spec) : spec_(spec) {}
    std::vector<int> reads() const override;
    bool linked() const override { return spec_.link; }
    nlohmann::json cache_key(OpEnv& env) override;
    bool execute(const std::filesystem::path& root, OpEnv& env) override;
    bool execute_again(const std::filesystem::path& tree, std::string previous,
                       OpEnv& env) override;
    std::string note() const override { return made_ ? made_->serialize() : ""; }
    bool kept(const std::string& path) const override;

  private:
    // COPY from the context without heredocs, --parents or --link: the copies
    // that are recorded and may be made again incrementally.
    bool incremental() const;

    const frontend::CopySpec& spec_;
    std::optional<CopyRecord> made_;  // what the last execute made
};

// Shared with ADD: the key fields that describe what a COPY/ADD does, and the
// key of what it reads when it is a stage or an image (nullopt: the context).
nlohmann::json copy_op_key(const frontend::CopySpec& spec);
std::optional<std::string> copy_from_key(const frontend::CopySpec& spec, OpEnv& env);

// Where a COPY/ADD reads from: the context, or a stage's or image's tree seen
// as one (no .dockerignore there). Alive while the step runs.
class CopySource {
  public:
    CopySource(const frontend::CopySpec& spec, OpEnv& env);
    const BuildContext& get() const { return owned_ ? *owned_ : *context_; }

  private:
    const BuildContext* context_ = nullptr;
    std::unique_ptr<BuildContext> owned_;
};

}  // namespace kiln::solver
