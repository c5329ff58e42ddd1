// One step's file-system operation behind one interface (BuildKit's Op): COPY
// (op_copy.h), ADD (op_add.h), RUN (op_exec.h) and WORKDIR (op_mkdir.h).
//
// Contract: the solver (step_job.cpp) asks an op for its part of the step's
// cache key first; on a cache miss it prepares a writable snapshot over the
// layers below and asks the op to execute into it; it then turns the snapshot's
// changes into the step's layer and records the result. An op never sees the
// cache, the snapshotter or the blob store: what it needs of the build comes
// through OpEnv. An op object belongs to one step of one solve and may keep
// state from cache_key() to execute() (ADD's fetched sources).
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "content/digest.h"
#include "content/image_store.h"
#include "frontend/build_plan.h"
#include "solver/build_context.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

// What an op may use of the build while its step is keyed and run; the solver
// implements it for one step, and it is valid only while that step's job runs.
class OpEnv {
  public:
    virtual ~OpEnv() = default;
    virtual const BuildContext& context() const = 0;
    virtual StatCache& stats() = 0;
    // A local named context (SolveDeps::named_contexts); throws kiln::Error when
    // the build has none of that name.
    virtual const NamedContext& named_context(const std::string& name) const = 0;
    // The cache key of another stage's file system (a stage listed in reads():
    // it has finished when the step runs).
    virtual content::Digest stage_key(int stage) const = 0;
    // An image from the store for the step's stage's platform (nullopt when
    // it is not there).
    virtual std::optional<content::StoredImage> resolve_image(const std::string& ref) const = 0;
    // Read-only trees of a finished stage or of an image, alive until the step ends.
    virtual std::filesystem::path stage_view(int stage) = 0;
    virtual std::filesystem::path image_view(const content::StoredImage& image) = 0;
    // The step's own scratch directory (fetched ADD sources, RUN's sandbox files).
    virtual const std::filesystem::path& work_dir() const = 0;
    // A line of the step's output, for progress.
    virtual void log(std::string_view line) = 0;
    // Set when the build stops: a long-running op gives up.
    virtual const std::atomic<bool>& cancel() const = 0;
    // Where an op notes the context files it reads (BuildContext::sources_digest's
    // `files`), for the step's --explain-cache summary; null: not wanted.
    virtual std::map<std::string, std::string>* summary_files() { return nullptr; }
};

class Op {
  public:
    virtual ~Op() = default;
    // Stages the op reads (COPY --from, RUN --mount from=): the step runs after them.
    virtual std::vector<int> reads() const { return {}; }
    // RUN: execute() mostly waits for a process, so it holds no CPU slot while
    // it runs (steps that wait are not limited by the number of cores).
    virtual bool waits() const { return false; }
    // COPY --link: the layer does not depend on the layers below; it is built on
    // an empty root and its key leaves the parent out (as BuildKit).
    virtual bool linked() const { return false; }
    // The op's fields of the step's cache key: what it does and the content of
    // what it reads. The solver adds the parent's key and the build's salt.
    // Throws kiln::Error (e.g. a COPY source that does not exist).
    virtual nlohmann::json cache_key(OpEnv& env) = 0;
    // Performs the step in `root` (a prepared, writable snapshot: what changes
    // there is the step's layer). False when it changed nothing at all, so the
    // step has no layer (WORKDIR of a directory that exists). Throws kiln::Error.
    virtual bool execute(const std::filesystem::path& root, OpEnv& env) = 0;
    // Incremental re-execution (COPY from the context, solver/copy_journal.h):
    // `tree` is a writable, hard-linked clone of this instruction's previous
    // result on the same file system, `previous` the note that result was
    // committed with; the op brings `tree` to exactly what execute() would have
    // added. False: not possible here, and the solver runs execute() on a
    // fresh snapshot instead (`tree` is then thrown away).
    // (`previous` is taken by value: a 20,000-file note is megabytes, and the
    // op may drop it once read.)
    virtual bool execute_again(const std::filesystem::path& tree, std::string previous,
                               OpEnv& env) {
        (void)tree, (void)previous, (void)env;
        return false;
    }
    // After execute() or execute_again(): what the step's snapshot is committed
    // with for a later execute_again() ("": nothing, and no incremental rerun).
    virtual std::string note() const { return ""; }
    // After execute_again(): whether the regular file at `path` (absolute in the
    // image) is the previous result's own file, untouched.
    virtual bool kept(const std::string& path) const {
        (void)path;
        return false;
    }
};

struct RunPolicy;  // op_exec.h: what RUN needs beyond its step

// The op that performs `step` (a file-system step: not Kind::metadata). `step`
// and `run` must outlive the op.
std::unique_ptr<Op> make_op(const frontend::Step& step, const RunPolicy& run);

}  // namespace kiln::solver
