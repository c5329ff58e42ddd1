// The runtime and slirp4netns are started through base/process.h; a missing program is
// the sandbox's error, like any other reason a process could not be run.
#include "base/process.h"
#include "sandbox/detail.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox::detail {

Process spawn(const std::vector<std::string>& argv, int in, int out, int err,
              const std::vector<int>& extra) {
    ProcessOptions o;
    o.argv = argv;
    o.in = Stdio::from_fd(in);
    o.out = Stdio::from_fd(out);
    o.err = Stdio::from_fd(err);
    o.extra_fds = extra;
    try {
        return Process::spawn(o);
    } catch (const SpawnError& e) {
        throw SandboxError(e.what());
    }
}

}  // namespace kiln::sandbox::detail
