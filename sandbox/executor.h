// Where a RUN's process runs: the seam between the solver and the sandbox (BuildKit's
// executor, ninja's CommandRunner). The solver describes one process — argv, env, user,
// cwd, the rootfs it sees as /, its mounts, network mode, security, an output sink and a
// cancel flag — and an Executor runs it and reports how it exited.
//
// Contract of run():
//   - Blocking; may be called from several threads at once (steps run in parallel), each
//     request with its own work_dir.
//   - A process that ran and exited (any code, or killed by a signal) is a RunResult; a
//     process that could not be started is a SandboxError with a user-facing message.
//     When request.cancel becomes true the process is stopped and the result says
//     cancelled.
//   - What the process changed in request.rootfs (and in rw bind sources) stays there: that
//     is the step's layer. Nothing else of the host is changed.
//   - request.runtime and request.netns_path are the executor's business: the solver leaves
//     them empty and asks for Network::private_ns to mean "the build's private network".
//
// no_more_runs(): a hint that no run() follows, so what is kept for later runs (the
// private network) may start going away now, beside the solve's last commits. A run()
// after it still works (it makes what it needs again).
//
// RuncExecutor (runc_executor.h) is the real one; the unit tests use a fake that records
// requests and applies scripted file changes (tests/unit/fake_executor.h).
#pragma once

#include "sandbox/sandbox.h"

namespace kiln::sandbox {

// One process to run (see RunOptions in sandbox.h for each field's meaning).
using ExecRequest = RunOptions;

class Executor {
  public:
    virtual ~Executor() = default;
    virtual RunResult run(const ExecRequest& request) = 0;
    virtual void no_more_runs() noexcept {}
};

}  // namespace kiln::sandbox
