#include "solver/step_job.h"

#include <algorithm>
#include <map>
#include <thread>

#include "solver/explain.h"
#include "solver/key_claims.h"

namespace kiln::solver {

namespace fs = std::filesystem;

SolveRun::SolveRun(const frontend::BuildPlan& p, const SolveDeps& d, const SolvePolicy& pol,
                   const BuildContext& ctx, StatCache& st, Progress& prog)
    : plan(p),
      deps(d),
      policy(pol),
      context(ctx),
      stats(st),
      progress(prog),
      own_cpu(cpu_slots()),
      cpu(d.cpu ? *d.cpu : own_cpu) {
    run.executor = d.executor;
    run.default_network = pol.network;
    run.secrets = pol.secrets;
    run.ssh_socket = pol.ssh_socket;
    run.cache_mounts = pol.cache_mounts;
    run.settings = pol.run_settings;
    for (size_t i = 0; i < p.stages.size(); ++i)
        states.push_back(std::make_unique<StageState>());
}

void SolveRun::add_record(SolvedRecord r) {
    std::lock_guard lock(mu_);
    records_.push_back(std::move(r));
}

std::vector<SolvedRecord> SolveRun::take_records() {
    std::lock_guard lock(mu_);
    std::sort(records_.begin(), records_.end(), [](const auto& a, const auto& b) {
        return std::pair(a.stage, a.index) < std::pair(b.stage, b.index);
    });
    return std::move(records_);
}

std::vector<CacheRecord> SolveRun::explain_candidates(const nlohmann::json& summary) {
    // Read once, on the first miss, without holding up jobs that end meanwhile.
    std::call_once(known_once_, [&] {
        if (deps.cache)
            for (auto& [_, r] : deps.cache->all())
                known_.push_back(std::move(r));
        if (deps.shared_records)
            for (auto& r : deps.shared_records())
                known_.push_back(std::move(r));
    });
    std::vector<CacheRecord> out;
    for (const auto& r : known_)
        if (same_instruction(r.summary, summary))
            out.push_back(r);
    return out;
}

namespace {

// Holds one of the solve's CPU slots for its scope.
class CpuSlot {
  public:
    explicit CpuSlot(std::counting_semaphore<>& cpu) : cpu_(cpu) { cpu_.acquire(); }
    ~CpuSlot() { cpu_.release(); }
    CpuSlot(const CpuSlot&) = delete;
    CpuSlot& operator=(const CpuSlot&) = delete;

  private:
    std::counting_semaphore<>& cpu_;
};

// The build as one step's op sees it; the read-only views it asks for live
// as long as this does (the whole step).
class StepEnv : public OpEnv {
  public:
    // `vertex` is null in the key job (no progress line yet: a step that
    // missed shows only when it runs).
    StepEnv(SolveRun& run, const StepJob& job, const CancelFlag& cancel, VertexScope* vertex)
        : run_(run), job_(job), cancel_(cancel), vertex_(vertex) {}

    const BuildContext& context() const override { return run_.context; }
    StatCache& stats() override { return run_.stats; }
    const NamedContext& named_context(const std::string& name) const override {
        const auto& all = run_.deps.named_contexts;
        auto it = all.find(name);
        if (it == all.end())
            throw Error("no build context named " + name);
        return *it->second;
    }
    content::Digest stage_key(int stage) const override { return state(stage).key; }
    std::optional<content::StoredImage> resolve_image(const std::string& ref) const override {
        return run_.deps.resolve_image(ref,
                                       run_.plan.stages[static_cast<size_t>(job_.stage)].platform);
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
    void log(std::string_view line) override {
        if (vertex_)
            vertex_->log(std::string(line));
    }
    const std::atomic<bool>& cancel() const override { return cancel_; }
    std::map<std::string, std::string>* summary_files() override { return &files_; }
    const std::map<std::string, std::string>& files() const { return files_; }

  private:
    const StageState& state(int stage) const { return *run_.states[static_cast<size_t>(stage)]; }
    snapshotter::Snapshotter& snaps() const { return *run_.deps.snapshots; }

    SolveRun& run_;
    const StepJob& job_;
    const CancelFlag& cancel_;
    VertexScope* vertex_;
    std::map<int, std::unique_ptr<snapshotter::Active>> stage_views_;
    std::vector<std::unique_ptr<snapshotter::Active>> image_views_;
    std::map<std::string, std::string> files_;
};

std::string stage_name(const frontend::BuildPlan& plan, int si) {
    const auto& st = plan.stages[static_cast<size_t>(si)];
    return st.name.empty() ? "stage-" + std::to_string(si) : st.name;
}

// The image the stage's file system starts from ("" for scratch), through FROM <stage>.
std::string base_of(const SolveRun& run, int si) {
    for (int s = si; s >= 0;) {
        if (const auto& img = run.states[static_cast<size_t>(s)]->base_image)
            return img->descriptor.digest.str();
        s = run.plan.stages[static_cast<size_t>(s)].base_stage;
    }
    return "";
}

// What --explain-cache compares (solver/explain.h), compacted as records keep
// it; never part of the key.
nlohmann::json step_summary(const SolveRun& run, const StepJob& job, const StepEnv& env) {
    const frontend::Step& step = run.plan.stages[static_cast<size_t>(job.stage)].steps[job.index];
    nlohmann::json s = {{"instruction", step.text}, {"stage", stage_name(run.plan, job.stage)}};
    if (auto base = base_of(run, job.stage); !base.empty())
        s["base"] = base;
    set_compact_files(s, env.files(), kSummaryFiles);
    for (int r : job.op->reads())
        s["stages"][stage_name(run.plan, r)] = env.stage_key(r).str();
    if (step.kind == frontend::Step::Kind::run) {
        nlohmann::json e = nlohmann::json::object();
        for (const auto& [k, v] : step.env.entries())
            e[k] = v;
        for (const auto& [k, v] : step.run.build_args)
            e[k] = v;
        if (!e.empty())
            s["env"] = e;
    }
    return s;
}

// The build cache's pointer to an instruction's latest result on a file
// system: the same instruction text in the same stage on the same parent key
// (the op itself checks the rest, file by file).
content::Digest again_key(const StepPlan& plan) {
    return key_of({{"again", plan.parent},
                   {"instruction", plan.summary.value("instruction", "")},
                   {"stage", plan.summary.value("stage", "")}});
}

// The op made again from its previous result on the same file system (an
// incremental COPY), with the hints its layer is written with; null when there
// is no such result or the op cannot, and it then runs afresh.
std::unique_ptr<snapshotter::Active> execute_again(SolveRun& run, const StepJob& job,
                                                   const std::string& below, OpEnv& env,
                                                   LayerHints& hints) {
    if (job.op->linked() || job.no_cache || !run.deps.cache)
        return nullptr;
    auto prev = run.deps.cache->get(again_key(*job.plan));
    if (!prev || !prev->layer)
        return nullptr;
    auto& snaps = *run.deps.snapshots;
    const std::string snap = chain_id(below, prev->layer->digest);
    auto note = snaps.exists(snap) ? snaps.note(snap) : std::nullopt;
    if (!note)
        return nullptr;
    std::unique_ptr<snapshotter::Active> edit;
    try {
        edit = snaps.edit(snap);
    } catch (const Error&) {
        return nullptr;  // removed meanwhile (a prune)
    }
    if (!job.op->execute_again(edit->root(), std::move(*note), env))
        return nullptr;
    hints.previous = prev->layer->digest;
    const Op* op = job.op.get();
    hints.unchanged = [op](const std::string& rel) { return op->kept("/" + rel); };
    return edit;
}

bool is_run(const SolveRun& run, const StepJob& job) {
    return run.plan.stages[static_cast<size_t>(job.stage)].steps[job.index].kind ==
           frontend::Step::Kind::run;
}

// On a cache miss: the op runs on a fresh writable snapshot over the layers
// before it (unpacked only now), and what it changed becomes the step's layer
// (none when it changed nothing).
std::optional<content::Descriptor> execute_step(SolveRun& run, const StepJob& job, StageState& me,
                                                OpEnv& env) {
    auto& snaps = *run.deps.snapshots;
    std::vector<std::string> parents;
    std::optional<CpuSlot> slot(std::in_place, run.cpu);
    try {
        if (!job.op->linked())
            layer_chain(me, snaps, *run.deps.blobs, me.own_first);
    } catch (const Error& e) {
        throw BaseLayerError(e.what());
    }
    // Then the stage's own steps before this one (later ones may already hold
    // the layers their hits recorded); a layer that fails here came from a cache.
    if (!job.op->linked())
        parents = layer_chain(me, snaps, *run.deps.blobs, me.own_first + job.index);
    const std::string below = parents.empty() ? "" : parents.back();
    // The op's previous result on the same file system, made again in place
    // of a fresh run when the op can (an incremental COPY).
    LayerHints hints;
    std::unique_ptr<snapshotter::Active> active = execute_again(run, job, below, env, hints);
    bool changed = active != nullptr;
    if (!active) {
        active = snaps.prepare(parents);
        if (job.op->waits())
            slot.reset();
        changed = job.op->execute(active->root(), env);
        // The last RUN's process is done: the executor's network may go
        // while this layer is made.
        if (is_run(run, job) && --run.runs_left == 0 && run.deps.executor)
            run.deps.executor->no_more_runs();
        if (!slot)
            slot.emplace(run.cpu);
    }
    std::optional<content::Descriptor> made;
    if (changed)
        made = run.deps.write_layer(active->upper(), true, unchanged_in(parents, snaps), hints);
    // A layer with no entry is no layer (a RUN that changed nothing).
    if (made && made->size <= 1024)
        made = nonempty(*run.deps.blobs, *made);
    if (made && !job.op->linked()) {
        const std::string note = job.op->note();
        snaps.commit(*active, chain_id(below, made->digest), note, made->digest.str());
        // Where the next build of this instruction on this file system finds it.
        if (!note.empty() && run.deps.cache) {
            CacheRecord again;
            again.layer = made;
            again.parent = job.plan->parent;
            again.created = run.policy.now;
            run.deps.cache->put(again_key(*job.plan), again);
        }
    }
    return made;
}

// A failing step's message: its line, or its stage's FROM line when a layer
// below it would not unpack (the FROM line brought that layer).
std::string step_error(const SolveRun& run, const StepJob& job, const Error& e, bool base_layer) {
    const frontend::Stage& stage = run.plan.stages[static_cast<size_t>(job.stage)];
    const frontend::Step& step = stage.steps[job.index];
    if (base_layer)
        return run.policy.dockerfile_name + ":" + std::to_string(stage.line) + ": FROM " +
               stage.base + ": " + e.what();
    return run.policy.dockerfile_name + ":" + std::to_string(step.line) + ": " + step.keyword +
           " failed: " + e.what();
}

[[noreturn]] void rethrow_as(const Error& e, const std::string& msg) {
    if (dynamic_cast<const Cancelled*>(&e))
        throw Cancelled(msg);
    throw Error(msg);
}

}  // namespace

void key_step_job(SolveRun& run, const StepJob& job, const CancelFlag& cancel) {
    if (cancel)
        return;
    StageState& me = *run.states[static_cast<size_t>(job.stage)];
    StepOutcome& outcome = me.steps[me.own_first + job.index];
    StepPlan& plan = *job.plan;
    try {
        StepEnv env(run, job, cancel, nullptr);
        // The key: the file system before, what the step does, and the
        // content of what it reads.
        nlohmann::json k = {{"parent", me.key.str()}, {"salt", run.policy.key_salt}};
        {
            CpuSlot slot(run.cpu);  // hashing what the step reads
            k.update(job.op->cache_key(env));
        }
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
        if (!hit && run.deps.shared_cache && !job.no_cache) {
            hit = run.deps.shared_cache(key);
            // Kept locally too: once its layer is here (or the cache is
            // imported again) the next build hits without asking.
            if (hit && run.deps.cache)
                run.deps.cache->put(key, *hit);
        }
        if (hit) {
            outcome.stored_layer = hit->layer;
            outcome.history.created = hit->created;
            outcome.history.empty_layer = !hit->layer;
            me.key = next_key;
            me.last_missed = false;
            ++run.cached_count;
            run.add_record({job.stage, job.index, key, *hit, job.in_image});
            VertexScope(run.progress, job.name).cached();
            return;
        }
        plan.missed = true;
        plan.key = key;
        plan.parent = linked ? "" : me.key.str();
        plan.parent_missed = !linked && me.last_missed;
        plan.summary = step_summary(run, job, env);
        me.key = next_key;
        me.last_missed = true;
    } catch (const Error& e) {
        const std::string msg = step_error(run, job, e, false);
        VertexScope(run.progress, job.name).error(msg);
        rethrow_as(e, msg);
    }
}

void run_step_job(SolveRun& run, const StepJob& job, const CancelFlag& cancel) {
    if (cancel)
        return;
    StageState& me = *run.states[static_cast<size_t>(job.stage)];
    StepOutcome& outcome = me.steps[me.own_first + job.index];
    const StepPlan& plan = *job.plan;
    VertexScope vertex(run.progress, job.name);
    try {
        StepEnv env(run, job, cancel, &vertex);
        CacheRecord record;
        record.parent = plan.parent;
        record.summary = plan.summary;
        if (run.policy.explain_cache) {
            std::string why;
            try {
                why = explain_miss({record.summary, plan.parent, plan.parent_missed},
                                   run.explain_candidates(record.summary));
            } catch (const std::exception& e) {
                // Records come from other machines: explaining never fails a build.
                why = std::string("cannot say (") + e.what() + ")";
            }
            run.progress.warn("explain-cache: " + job.name + ": " + why);
        }
        // A concurrent solve running the same step: its record, once it is done.
        std::optional<KeyClaims::Claim> claim;
        if (run.deps.claims) {
            claim.emplace(run.deps.claims->claim(plan.key));
            if (cancel)
                return;
            std::optional<CacheRecord> hit;
            if (claim->waited() && run.deps.cache)
                hit = run.deps.cache->get(plan.key);
            if (hit) {
                outcome.stored_layer = hit->layer;
                outcome.history.created = hit->created;
                outcome.history.empty_layer = !hit->layer;
                ++run.cached_count;
                run.add_record({job.stage, job.index, plan.key, *hit, job.in_image});
                vertex.cached();
                return;
            }
        }
        auto made = execute_step(run, job, me, env);
        record.created = run.policy.now;
        record.layer = made;
        outcome.history.created = run.policy.now;
        outcome.stored_layer = made;
        outcome.history.empty_layer = !made;
        if (run.deps.cache)
            run.deps.cache->put(plan.key, record);
        ++run.run_count;
        run.add_record({job.stage, job.index, plan.key, record, job.in_image});
        vertex.done();
    } catch (const BaseLayerError& e) {
        const std::string msg = step_error(run, job, e, true);
        vertex.error(msg);
        throw Error(msg);
    } catch (const Error& e) {
        const std::string msg = step_error(run, job, e, false);
        vertex.error(msg);
        rethrow_as(e, msg);
    }
}

}  // namespace kiln::solver
