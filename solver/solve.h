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
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "content/blob_store.h"
#include "content/image_store.h"
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
    // Base images: FROM <image> resolves through this (nullopt: not in the
    // store), and their layers are read from `blobs`.
    std::function<std::optional<content::StoredImage>(const std::string& ref)> resolve_image;
    const content::BlobStore* blobs = nullptr;
};

struct StepOutcome {
    content::HistoryEntry history;               // "created" left empty for the exporter to fill
    std::optional<std::filesystem::path> layer;  // the step's diff tree, when it has one
    // A layer the store already holds (a base image's), uncompressed.
    std::optional<content::Descriptor> stored_layer;
};

struct SolvedImage {
    content::ImageConfig config;  // rootfs.diff_ids left empty for the exporter
    std::vector<StepOutcome> steps;
};

SolvedImage solve(const frontend::BuildPlan& plan, const SolveOptions& options);

// The OCI image config a stage's settings describe, and back.
content::RunConfig to_run_config(const frontend::ImageSettings& s);
frontend::ImageSettings from_run_config(const content::RunConfig& c, const std::string& author);

}  // namespace kiln::solver
