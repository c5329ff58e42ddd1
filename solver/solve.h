// Solving a BuildPlan: runs the steps of the target stage and returns what
// the exporter needs: each step's layer (already in the blob store) for the
// steps that change the file system, the history, and the image config.
//
// Contract: every file the solver writes is under policy.work_dir (which the
// caller owns and removes); the build context is only read. Steps run on the
// scheduler's worker pool in dependency order; a failing step stops the
// build with a kiln::Error naming the Dockerfile line.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include "base/progress.h"
#include "content/blob_store.h"
#include "content/image_store.h"
#include "content/oci.h"
#include "frontend/build_plan.h"
#include "sandbox/executor.h"
#include "snapshotter/snapshotter.h"
#include "solver/cache_store.h"
#include "solver/run_op.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

// A step's diff tree → layer: `omit_empty_dir(rel, st)` says which empty
// directories are no change (see exporter::LayerOptions).
using OmitDir = std::function<bool(const std::string& rel, const struct stat& st)>;

// An incremental step's layer (solver/copy_journal.h): the earlier layer its
// tree was made from, and which regular files (paths relative, no leading "/")
// are the very files that layer holds, so the writer may copy their entries.
struct LayerHints {
    std::optional<content::Digest> previous;
    std::function<bool(const std::string& rel)> unchanged;
};

// What the solver works with: stores, the snapshotter, the executor, the
// image resolver, the layer writer, the progress sink. Injected, so that tests
// put in a native snapshotter, a temp store and a fake executor.
class BuildContext;
struct NamedContext;
class KeyClaims;

struct SolveDeps {
    // Base images: FROM <image> resolves through this (nullopt: not in the
    // store), and their layers are read from `blobs`. `platform` is the
    // stage's (frontend::Stage::platform; "" = the default one).
    std::function<std::optional<content::StoredImage>(const std::string& ref,
                                                      const std::string& platform)>
        resolve_image;
    // Why resolve_image found nothing for `ref` (a pull's error), for the
    // message that names the FROM line; default: not in the local store.
    std::function<std::string(const std::string& ref)> why_missing;
    const content::BlobStore* blobs = nullptr;  // required
    // Turns a step's diff tree into an uncompressed layer in the store (the
    // exporter's layer writer; injected so the solver need not depend on it).
    // `overlay_whiteouts`: the tree is an overlay upper directory (0/0 devices
    // are deletions, trusted.overlay.opaque marks replaced directories).
    // Required.
    std::function<content::Descriptor(const std::filesystem::path& tree, bool overlay_whiteouts,
                                      const OmitDir& omit_empty_dir, const LayerHints& hints)>
        write_layer;
    // Where steps run: snapshots of the layers (one per layer, shared by
    // every build), made from the blobs when first needed. Required.
    snapshotter::Snapshotter* snapshots = nullptr;
    // Runs RUN's processes (sandbox/executor.h). Required when a RUN runs.
    sandbox::Executor* executor = nullptr;
    // The build cache; null = no cache.
    const CacheStore* cache = nullptr;
    // Records imported from shared caches (--cache-from), asked after a local
    // miss; their layers may be lazily known to the store. Optional.
    std::function<std::optional<CacheRecord>(const content::Digest& key)> shared_cache;
    // Every imported record, for --explain-cache. Optional.
    std::function<std::vector<CacheRecord>()> shared_records;
    StatCache* stats = nullptr;    // null: a scratch one under work_dir
    Progress* progress = nullptr;  // NullProgress when null
    // Set from outside (SIGINT) to stop the build: running RUNs are killed,
    // no new step starts, solve() throws kiln::Cancelled.
    std::atomic<bool>* cancel = nullptr;
    // Shared by solves that run at once (solver/key_claims.h), so a step they
    // have in common runs once; null = each solve on its own.
    KeyClaims* claims = nullptr;
    // What solves that run at once share, so that together they read the
    // context once and use the cores once: the context (made with `shared`;
    // its root and ignore patterns then stand for policy's) and the slots of
    // CPU-bound work (one per core). Null: the solve makes its own.
    const BuildContext* context = nullptr;
    // The local named contexts (frontend::CopySpec::from_context), by name.
    std::map<std::string, const NamedContext*> named_contexts;
    std::counting_semaphore<>* cpu = nullptr;
};

// What to build from and how: inputs, limits, entitlements and cache policy.
struct SolvePolicy {
    std::filesystem::path context_dir;
    std::vector<std::string> ignore_patterns;  // .dockerignore, already read
    std::filesystem::path work_dir;            // scratch space for rootfs and layer trees
    std::string dockerfile_name = "Dockerfile";
    // Put before each step's label in progress lines ("[linux/arm64 2/3] RUN
    // ..."), as BuildKit names the steps of a multi-platform build.
    std::string vertex_prefix;
    unsigned jobs = 0;  // steps at once; 0 = every ready step (CPU work still one per core)
    // Default network of RUN steps: "" (a private namespace with outbound access,
    // sandbox/network.h), "host" or "none".
    std::string network;
    // Entitlements (buildx's --allow): RUN --network=host, RUN --security=insecure.
    bool allow_network_host = false;
    bool allow_insecure = false;
    // RUN: --secret sources, the --ssh agent socket, where type=cache mounts persist.
    std::map<std::string, SecretSource> secrets;
    std::string ssh_socket;
    std::filesystem::path cache_mounts;
    // buildx's --add-host, --shm-size, --ulimit: every RUN's sandbox (part of its key).
    sandbox::BuildSettings run_settings;
    // `no_cache` skips cache lookups (results are still recorded),
    // `no_cache_stages` does so for the named stages only.
    bool no_cache = false;
    std::vector<std::string> no_cache_stages;
    // Mixed into every key: whatever changes a layer's bytes without being an
    // input of the step (SOURCE_DATE_EPOCH clamps mtimes).
    std::string key_salt;
    // --explain-cache: a warning per step that missed, saying why (solver/explain.h).
    bool explain_cache = false;
    // The time a step that runs now is dated with (RFC 3339); a cached step
    // keeps the time it first ran, so an unchanged rebuild is the same image.
    std::string now;
};

struct StepOutcome {
    content::HistoryEntry history;  // "created" left empty for the exporter to fill
    // The layer the step made (or a base image's), uncompressed, in the
    // store; none for a step that changes no file.
    std::optional<content::Descriptor> stored_layer;
};

// What a build did, for `--progress` summaries and tests.
struct SolveStats {
    size_t steps_run = 0;
    size_t steps_cached = 0;
};

// A step's cache record as the build ended with it (run or hit), for
// --cache-to. `in_image`: the step's stage is the target or one it is built
// FROM, so its layer is in the image (buildx's mode=min exports only these).
struct SolvedRecord {
    int stage = 0;
    std::size_t index = 0;  // of the step in its stage
    content::Digest key;
    CacheRecord record;
    bool in_image = false;
};

struct SolvedImage {
    content::ImageConfig config;  // rootfs.diff_ids left empty for the exporter
    std::vector<StepOutcome> steps;
    SolveStats stats;
    std::vector<SolvedRecord> records;  // by stage, then step: the same order every build
};

SolvedImage solve(const frontend::BuildPlan& plan, const SolveDeps& deps,
                  const SolvePolicy& policy);

// How many slots of CPU-bound work a solve (or solves sharing SolveDeps::cpu)
// holds: one per core.
std::ptrdiff_t cpu_slots();

// The OCI image config a stage's settings describe, and back.
content::RunConfig to_run_config(const frontend::ImageSettings& s);
frontend::ImageSettings from_run_config(const content::RunConfig& c, const std::string& author);

}  // namespace kiln::solver
