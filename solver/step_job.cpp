#include "solver/step_job.h"

#include <map>

namespace kiln::solver {

namespace fs = std::filesystem;

SolveRun::SolveRun(const frontend::BuildPlan& p, const SolveDeps& d, const SolvePolicy& pol,
                   const BuildContext& ctx, StatCache& st, Progress& prog)
    : plan(p), deps(d), policy(pol), context(ctx), stats(st), progress(prog) {
    run.executor = d.executor;
    run.default_network = pol.network;
    run.secrets = pol.secrets;
    run.ssh_socket = pol.ssh_socket;
    run.cache_mounts = pol.cache_mounts;
    for (size_t i = 0; i < p.stages.size(); ++i)
        states.push_back(std::make_unique<StageState>());
}

namespace {

// The build as one step's op sees it; the read-only views it asks for live
// as long as this does (the whole step).
class StepEnv : public OpEnv {
  public:
    StepEnv(SolveRun& run, const StepJob& job, const CancelFlag& cancel, VertexScope& vertex)
        : run_(run), job_(job), cancel_(cancel), vertex_(vertex) {}

    const BuildContext& context() const override { return run_.context; }
    StatCache& stats() override { return run_.stats; }
    content::Digest stage_key(int stage) const override { return state(stage).key; }
    std::optional<content::StoredImage> resolve_image(const std::string& ref) const override {
        return run_.deps.resolve_image(ref);
    }
    fs::path stage_view(int stage) override {
        auto& v = stage_views_[stage];
        if (!v)
            v = snaps().view(layer_chain(state(stage), snaps(), *run_.deps.blobs));
        return v->root();
    }
    fs::path image_view(const content::StoredImage& image) override {
        image_views_.push_back(
            snaps().view(layer_keys(image_layers(image), snaps(), *run_.deps.blobs)));
        return image_views_.back()->root();
    }
    const fs::path& work_dir() const override { return job_.work_dir; }
    void log(std::string_view line) override { vertex_.log(std::string(line)); }
    const std::atomic<bool>& cancel() const override { return cancel_; }

  private:
    const StageState& state(int stage) const { return *run_.states[static_cast<size_t>(stage)]; }
    snapshotter::Snapshotter& snaps() const { return *run_.deps.snapshots; }

    SolveRun& run_;
    const StepJob& job_;
    const CancelFlag& cancel_;
    VertexScope& vertex_;
    std::map<int, std::unique_ptr<snapshotter::Active>> stage_views_;
    std::vector<std::unique_ptr<snapshotter::Active>> image_views_;
};

// On a cache miss: the op runs on a fresh writable snapshot over the layers
// before it (unpacked only now), and what it changed becomes the step's layer
// (none when it changed nothing).
std::optional<content::Descriptor> execute_step(SolveRun& run, const StepJob& job, StageState& me,
                                                OpEnv& env) {
    auto& snaps = *run.deps.snapshots;
    std::vector<std::string> parents;
    try {
        if (!job.op->linked())
            parents = layer_chain(me, snaps, *run.deps.blobs);
    } catch (const Error& e) {
        throw BaseLayerError(e.what());
    }
    auto active = snaps.prepare(parents);
    std::optional<content::Descriptor> made;
    if (job.op->execute(active->root(), env))
        made = run.deps.write_layer(active->upper(), true, unchanged_in(parents, snaps));
    // A layer with no entry is no layer (a RUN that changed nothing).
    if (made && made->size <= 1024)
        made = nonempty(*run.deps.blobs, *made);
    if (made && !job.op->linked())
        snaps.commit(*active, chain_id(parents.empty() ? "" : parents.back(), made->digest));
    return made;
}

}  // namespace

void run_step_job(SolveRun& run, const StepJob& job, const CancelFlag& cancel) {
    if (cancel)
        return;
    const frontend::Stage& stage = run.plan.stages[static_cast<size_t>(job.stage)];
    const frontend::Step& step = stage.steps[job.index];
    StageState& me = *run.states[static_cast<size_t>(job.stage)];
    StepOutcome& outcome = me.steps[me.own_first + job.index];
    VertexScope vertex(run.progress, job.name);
    try {
        StepEnv env(run, job, cancel, vertex);
        // The key: the file system before, what the step does, and the
        // content of what it reads.
        nlohmann::json k = {{"parent", me.key.str()}, {"salt", run.policy.key_salt}};
        k.update(job.op->cache_key(env));
        // COPY --link: the key leaves the parent out; the stage's key after it
        // still chains the parent.
        const bool linked = job.op->linked();
        if (linked)
            k.erase("parent");
        const content::Digest key = key_of(k);
        const content::Digest next_key =
            linked ? key_of({{"parent", me.key.str()}, {"link", key.str()}}) : key;
        std::optional<CacheRecord> hit;
        if (run.deps.cache && !job.no_cache)
            hit = run.deps.cache->get(key);
        if (hit) {
            outcome.stored_layer = hit->layer;
            outcome.history.created = hit->created;
            outcome.history.empty_layer = !hit->layer;
            me.key = next_key;
            ++run.cached_count;
            vertex.cached();
            return;
        }
        auto made = execute_step(run, job, me, env);
        CacheRecord record;
        record.created = run.policy.now;
        record.layer = made;
        outcome.history.created = run.policy.now;
        outcome.stored_layer = made;
        outcome.history.empty_layer = !made;
        if (run.deps.cache)
            run.deps.cache->put(key, record);
        me.key = next_key;
        ++run.run_count;
        vertex.done();
    } catch (const BaseLayerError& e) {
        // A layer below the step would not unpack: the FROM line brought it.
        std::string msg = run.policy.dockerfile_name + ":" + std::to_string(stage.line) +
                          ": FROM " + stage.base + ": " + e.what();
        vertex.error(msg);
        throw Error(msg);
    } catch (const Error& e) {
        std::string msg = run.policy.dockerfile_name + ":" + std::to_string(step.line) + ": " +
                          step.keyword + " failed: " + e.what();
        vertex.error(msg);
        if (dynamic_cast<const Cancelled*>(&e))
            throw Cancelled(msg);
        throw Error(msg);
    }
}

}  // namespace kiln::solver
