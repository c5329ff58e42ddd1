// Solving a BuildPlan: runs the steps of the target stage and returns what
// the exporter needs — a layer directory per step that changes the file
// system, the history, and the image config.
//
// Contract: every file the solver writes is under options.work_dir (which the
// caller owns and removes); the build context is only read. Steps run on the
// scheduler's worker pool in dependency order; a failing step stops the
// build with a kiln::Error naming the Dockerfile line.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "content/oci.h"
#include "frontend/build_plan.h"
#include "solver/progress.h"

namespace kiln::solver {

struct SolveOptions {
    std::filesystem::path context_dir;
    std::vector<std::string> ignore_patterns;  // .dockerignore, already read
    std::filesystem::path work_dir;            // scratch space for rootfs and layer trees
    std::string dockerfile_name = "Dockerfile";
    Progress* progress = nullptr;  // NullProgress when null
    unsigned jobs = 0;             // 0 = number of cores
};

struct StepOutcome {
    content::HistoryEntry history;               // "created" is left for the exporter
    std::optional<std::filesystem::path> layer;  // the step's diff tree, when it has one
};

struct SolvedImage {
    content::ImageConfig config;  // rootfs.diff_ids left empty for the exporter
    std::vector<StepOutcome> steps;
};

SolvedImage solve(const frontend::BuildPlan& plan, const SolveOptions& options);

// The OCI image config a stage's settings describe.
content::RunConfig to_run_config(const frontend::ImageSettings& s);

}  // namespace kiln::solver
