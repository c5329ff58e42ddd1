#include "solver/op.h"

#include <stdexcept>

#include "solver/op_add.h"
#include "solver/op_copy.h"
#include "solver/op_exec.h"
#include "solver/op_mkdir.h"

namespace kiln::solver {

std::unique_ptr<Op> make_op(const frontend::Step& step, const RunPolicy& run) {
    switch (step.kind) {
        case frontend::Step::Kind::copy:
            if (step.copy.is_add)
                return std::make_unique<AddOp>(step.copy);
            return std::make_unique<CopyOp>(step.copy);
        case frontend::Step::Kind::run:
            return std::make_unique<ExecOp>(step, run);
        case frontend::Step::Kind::workdir:
            return std::make_unique<MkdirOp>(step);
        case frontend::Step::Kind::metadata:
            break;
    }
    throw std::logic_error("make_op: a metadata step has no op");
}

}  // namespace kiln::solver
