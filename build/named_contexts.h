// buildx's --build-context NAME=VALUE: a directory, docker-image://REF,
// oci-layout://DIR[:TAG|@DIGEST], a git or tarball URL, or target:STAGE, made into what lowering
// and the solver read (frontend::NamedContext, solver::NamedContext). Lowering applies BuildKit's
// precedence (frontend/lower.h).
//
// Invariants: every spec is checked (parse_build_contexts) before any work,
// with one usage error naming the flag; a directory or fetched URL is read
// like the build context (its own .dockerignore applies) with a stat cache of
// its own, keyed by what the user named; a fetched one lives under the state
// root's tmp/ and is removed with this object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/progress.h"
#include "build/base_images.h"
#include "content/state_root.h"
#include "frontend/lower.h"
#include "solver/build_context.h"

namespace kiln::build {

struct BuildContextSpec {
    frontend::NamedContext::Kind kind = frontend::NamedContext::Kind::local;
    std::string value;    // a path, a reference, a URL or a stage
    bool remote = false;  // local kind: a URL to fetch
    // oci-layout://: the layout directory and the tag or digest in it ("" =
    // its one image); the image is imported and pinned (BaseImages::pin) as
    // `value`, the name lowering gives the image.
    std::string layout, layout_ref;
};

// By lower-case name. Throws kiln::UsageError naming the flag for a spec
// without NAME=, an empty value, a name given twice, a directory that does
// not exist, or a kind kiln does not read.
std::map<std::string, BuildContextSpec> parse_build_contexts(const std::vector<std::string>& specs);

class NamedContexts {
  public:
    // Fetches the URLs (progress lines, as the build context's) and opens the
    // directories. An oci-layout image is pinned in `bases`: read into the
    // store when a stage first asks for it, for that stage's platform (an
    // index's entry for it). `root`, `bases` and `progress` must outlive the
    // build. Throws kiln::Error naming the context that failed.
    NamedContexts(const std::map<std::string, BuildContextSpec>& specs,
                  const content::StateRoot& root, BaseImages& bases, Progress& progress,
                  const CancelFlag* cancel);
    ~NamedContexts();
    NamedContexts(const NamedContexts&) = delete;
    NamedContexts& operator=(const NamedContexts&) = delete;

    const std::map<std::string, frontend::NamedContext>& for_lowering() const { return lower_; }
    const std::map<std::string, const solver::NamedContext*>& for_solve() const { return solve_; }

  private:
    struct Local;
    std::vector<std::unique_ptr<Local>> locals_;
    std::map<std::string, frontend::NamedContext> lower_;
    std::map<std::string, const solver::NamedContext*> solve_;
};

}  // namespace kiln::build
