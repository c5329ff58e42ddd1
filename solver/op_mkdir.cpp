#include "solver/op_mkdir.h"

#include "solver/copy_op.h"

namespace kiln::solver {

nlohmann::json MkdirOp::cache_key(OpEnv&) {
    // New directories belong to the USER in effect.
    return {{"op", {{"workdir", step_.workdir}, {"user", step_.user}}}};
}

bool MkdirOp::execute(const std::filesystem::path& root, OpEnv&) {
    return run_mkdir(step_.workdir, root,
                     step_.user.empty() ? Owner{} : parse_chown(step_.user, root));
}

}  // namespace kiln::solver
