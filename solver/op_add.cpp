#include "solver/op_add.h"

#include <stdexcept>

#include "solver/op_copy.h"

namespace kiln::solver {

std::vector<int> AddOp::reads() const {
    if (spec_.from_stage >= 0)
        return {spec_.from_stage};
    return {};
}

nlohmann::json AddOp::cache_key(OpEnv& env) {
    inputs_ = prepare_add(spec_, env.work_dir(), &env.cancel());
    auto input = copy_from_key(spec_, env);
    return {{"add",
             {{"fetched", inputs_->digest.str()},
              {"checksum", spec_.checksum},
              {"unpack", spec_.unpack},
              {"keep_git_dir", spec_.keep_git_dir}}},
            {"op", copy_op_key(spec_)},
            {"input", input ? *input
                            : env.context()
                                  .sources_digest(inputs_->context_sources, env.stats(),
                                                  spec_.excludes, env.summary_files())
                                  .str()}};
}

bool AddOp::execute(const std::filesystem::path& root, OpEnv& env) {
    if (!inputs_)
        throw std::logic_error("ADD executed before its key was computed");
    CopySource source(spec_, env);
    run_add(spec_, *inputs_, source.get(), root, env.work_dir());
    return true;
}

}  // namespace kiln::solver
