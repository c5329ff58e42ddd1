// One file-system step of a solve, in two scheduler jobs. The key job makes
// its cache key (the parent's key, the build's salt and the op's fields) and
// looks it up: a hit takes the recorded layer (lazily: no byte is read) and
// ends there. A step that missed runs in the run job, only when its result is
// needed (solve.cpp decides): the snapshot, the op's execute(), the layer and
// the cache record. Keys depend on definitions and the content of what steps
// read, never on what a step produced, so every key is known before anything
// runs, and a stage whose result only feeds hits never runs (as BuildKit).
// Internal to solver/ (solve.cpp builds the graphs of these jobs).
//
// Errors leave the job as kiln::Error naming the Dockerfile line
// ("Dockerfile:7: RUN failed: ..."), or the stage's FROM line when a layer
// below the step would not unpack; the progress vertex gets the same text.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include "base/progress.h"
#include "solver/build_context.h"
#include "solver/op.h"
#include "solver/op_exec.h"
#include "solver/scheduler.h"
#include "solver/solve.h"
#include "solver/stage_state.h"

namespace kiln::solver {

// What every job of one solve shares. The stage states are made up front
// (jobs hold references into them) and each is written only by its own
// stage's jobs, in order.
struct SolveRun {
    SolveRun(const frontend::BuildPlan& plan, const SolveDeps& deps, const SolvePolicy& policy,
             const BuildContext& context, StatCache& stats, Progress& progress);
    const frontend::BuildPlan& plan;
    const SolveDeps& deps;
    const SolvePolicy& policy;
    const BuildContext& context;
    StatCache& stats;
    Progress& progress;
    RunPolicy run;  // what every RUN shares
    // CPU-bound work (hashing, unpacking, copying, tar) takes one of these,
    // one per core (SolveDeps::cpu when solves share them); a step waiting for
    // its process does not, so ready steps are not limited by the number of cores.
    std::counting_semaphore<> own_cpu;
    std::counting_semaphore<>& cpu;
    std::vector<std::unique_ptr<StageState>> states;
    std::atomic<size_t> run_count{0}, cached_count{0};
    // RUN steps still to run; the executor hears no_more_runs() when it drops to 0.
    std::atomic<size_t> runs_left{0};

    // Records of the steps as they end (SolvedImage::records).
    void add_record(SolvedRecord r);
    std::vector<SolvedRecord> take_records();
    // --explain-cache: records of the same instruction, local and imported
    // (the local cache directory is read once, on the first miss).
    std::vector<CacheRecord> explain_candidates(const nlohmann::json& summary);

  private:
    std::mutex mu_;
    std::vector<SolvedRecord> records_;
    std::once_flag known_once_;
    std::vector<CacheRecord> known_;
};

// What the key job learned of a step that missed, for its run job.
struct StepPlan {
    bool missed = false;
    content::Digest key;
    std::string parent;  // "" for COPY --link
    bool parent_missed = false;
    nlohmann::json summary;  // solver/explain.h
};

struct StepJob {
    int stage = 0;
    size_t index = 0;                // in the stage's steps
    std::string name;                // the progress line ("[2/3] RUN make")
    std::filesystem::path work_dir;  // the step's scratch
    bool no_cache = false;           // skip the lookup (--no-cache, --no-cache-filter)
    bool in_image = false;           // the stage's layers end up in the target's image
    std::shared_ptr<Op> op;
    std::shared_ptr<StepPlan> plan;  // shared by the step's two jobs
};

void key_step_job(SolveRun& run, const StepJob& job, const CancelFlag& cancel);
void run_step_job(SolveRun& run, const StepJob& job, const CancelFlag& cancel);

}  // namespace kiln::solver
