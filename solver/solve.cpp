#include "solver/solve.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "base/ascii.h"
#include "base/error.h"
#include "solver/build_context.h"
#include "solver/scheduler.h"
#include "solver/step_job.h"

namespace kiln::solver {

namespace fs = std::filesystem;

content::RunConfig to_run_config(const frontend::ImageSettings& s) {
    content::RunConfig c;
    c.user = s.user;
    for (const auto& p : s.exposed_ports)
        c.exposed_ports[p] = nlohmann::json::object();
    for (const auto& [k, v] : s.env)
        c.env.push_back(k + "=" + v);
    c.entrypoint = s.entrypoint;
    c.cmd = s.cmd;
    for (const auto& v : s.volumes)
        c.volumes[v] = nlohmann::json::object();
    c.working_dir = s.working_dir;
    c.labels = s.labels;
    c.stop_signal = s.stop_signal;
    c.shell = s.shell;
    c.on_build = s.on_build;
    c.args_escaped = s.args_escaped;
    if (s.healthcheck) {
        nlohmann::json hc{{"Test", s.healthcheck->test}};
        if (s.healthcheck->interval_ns)
            hc["Interval"] = s.healthcheck->interval_ns;
        if (s.healthcheck->timeout_ns)
            hc["Timeout"] = s.healthcheck->timeout_ns;
        if (s.healthcheck->start_period_ns)
            hc["StartPeriod"] = s.healthcheck->start_period_ns;
        if (s.healthcheck->start_interval_ns)
            hc["StartInterval"] = s.healthcheck->start_interval_ns;
        if (s.healthcheck->retries)
            hc["Retries"] = s.healthcheck->retries;
        c.healthcheck = hc;
    }
    return c;
}

frontend::ImageSettings from_run_config(const content::RunConfig& c, const std::string& author) {
    frontend::ImageSettings s;
    s.user = c.user;
    for (const auto& [p, _] : c.exposed_ports)
        s.exposed_ports.insert(p);
    for (const auto& e : c.env) {
        auto eq = e.find('=');
        s.set_env(e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1));
    }
    s.entrypoint = c.entrypoint;
    s.cmd = c.cmd;
    for (const auto& [v, _] : c.volumes)
        s.volumes.insert(v);
    s.working_dir = c.working_dir;
    s.labels = c.labels;
    s.stop_signal = c.stop_signal;
    s.shell = c.shell;
    s.on_build = c.on_build;
    s.args_escaped = c.args_escaped;
    s.maintainer = author;
    if (c.healthcheck && c.healthcheck->is_object()) {
        const auto& h = *c.healthcheck;
        frontend::ImageSettings::Healthcheck hc;
        hc.test = h.value("Test", std::vector<std::string>{});
        hc.interval_ns = h.value("Interval", 0LL);
        hc.timeout_ns = h.value("Timeout", 0LL);
        hc.start_period_ns = h.value("StartPeriod", 0LL);
        hc.start_interval_ns = h.value("StartInterval", 0LL);
        hc.retries = h.value("Retries", 0);
        s.healthcheck = hc;
    }
    return s;
}

namespace {

std::string stage_label(const frontend::Stage& st, size_t total_stages) {
    if (!st.name.empty())
        return st.name + " ";
    if (total_stages > 1)
        return "stage-" + std::to_string(st.index) + " ";
    return "";
}

// Images a build needs and the store lacks are reported before any work
// starts, so a build never fails half-way for them.
void check_images(const frontend::BuildPlan& plan, const std::vector<int>& needed,
                  const SolveDeps& o, const std::string& dockerfile_name) {
    for (int i : needed) {
        const frontend::Stage& st = plan.stages[static_cast<size_t>(i)];
        if (st.base_stage < 0 && !is_scratch(st.base) &&
            !(o.resolve_image && o.resolve_image(st.base, st.platform))) {
            std::string why = o.why_missing ? o.why_missing(st.base) : "";
            throw Error(dockerfile_name + ":" + std::to_string(st.line) + ": FROM " + st.base +
                        ": " + (why.empty() ? "no such image in the local store" : why));
        }
        for (const auto& step : st.steps) {
            if (step.kind != frontend::Step::Kind::copy)
                continue;
            const auto& c = step.copy;
            if (!c.from.empty() && c.from_stage < 0 && c.from_context.empty() &&
                !(o.resolve_image && o.resolve_image(c.from, st.platform))) {
                std::string why = o.why_missing ? o.why_missing(c.from) : "";
                throw Error(dockerfile_name + ":" + std::to_string(step.line) +
                            ": COPY --from=" + c.from + ": no such stage, and " +
                            (why.empty() ? "no such image in the local store" : why));
            }
        }
    }
}

content::ImageConfig stage_config(const frontend::Stage& stage) {
    content::ImageConfig c;
    c.os = "linux";
    c.architecture = "amd64";
    if (!stage.platform.empty()) {
        auto first = stage.platform.find('/');
        auto second = stage.platform.find('/', first + 1);
        c.os = stage.platform.substr(0, first);
        c.architecture = stage.platform.substr(first + 1, second - first - 1);
        if (second != std::string::npos)
            c.variant = stage.platform.substr(second + 1);
    }
    c.config = to_run_config(stage.settings);
    c.author = stage.settings.maintainer;
    return c;
}

// RUN --network=host and --security=insecure need the build to be entitled
// (buildx's --allow): refused, naming the line, before any step runs.
void check_entitlements(const frontend::BuildPlan& plan, const std::vector<int>& needed,
                        const SolvePolicy& options) {
    for (int si : needed) {
        for (const auto& step : plan.stages[static_cast<size_t>(si)].steps) {
            if (step.kind != frontend::Step::Kind::run)
                continue;
            const std::string where = options.dockerfile_name + ":" + std::to_string(step.line);
            const std::string& net = step.run.network;
            if (net == "host" && !options.allow_network_host)
                throw Error(where +
                            ": RUN --network=host is not allowed: start the build with "
                            "--allow network.host");
            if (step.run.security == "insecure" && !options.allow_insecure)
                throw Error(where +
                            ": RUN --security=insecure is not allowed: start the build "
                            "with --allow security.insecure");
        }
    }
}

// --no-cache, or --no-cache-filter naming the stage (names are case-insensitive).
bool skips_cache(const frontend::Stage& stage, const SolvePolicy& policy) {
    bool skip = policy.no_cache;
    for (const std::string& n : policy.no_cache_stages)
        skip |= !stage.name.empty() && ascii_lower(n) == stage.name;
    return skip;
}

// The target and the stages it is built FROM hold the image's layers.
bool in_image(const frontend::BuildPlan& plan, int si) {
    for (int s = plan.target; s >= 0; s = plan.stages[static_cast<size_t>(s)].base_stage)
        if (s == si)
            return true;
    return false;
}

// The job that begins a stage as its base: the base's steps, layers and key,
// then an outcome per own step (history from the plan, filled in by the jobs).
Job begin_stage_job(SolveRun& run, int si) {
    const frontend::Stage& stage = run.plan.stages[static_cast<size_t>(si)];
    Job begin;
    begin.name = "begin stage " + std::to_string(si);
    if (stage.base_stage >= 0) {
        auto& base = *run.states[static_cast<size_t>(stage.base_stage)];
        if (!base.last_job)
            throw std::logic_error("stage " + std::to_string(si) + " lowered before its base");
        begin.deps.push_back(*base.last_job);
    }
    begin.run = [&run, si](const CancelFlag&) {
        const frontend::Stage& st = run.plan.stages[static_cast<size_t>(si)];
        StageState& me = *run.states[static_cast<size_t>(si)];
        if (st.base_stage >= 0) {
            const StageState& base = *run.states[static_cast<size_t>(st.base_stage)];
            me.steps = base.steps;
            me.key = base.key;
            me.last_missed = base.last_missed;
        } else if (!is_scratch(st.base)) {
            me.base_image = run.deps.resolve_image(st.base, st.platform);
            me.steps = base_steps(*me.base_image);
            me.key = key_of({{"image", me.base_image->descriptor.digest.str()}});
        } else if (st.platform.empty()) {
            me.key = key_of({{"scratch", true}});
        } else {
            // A RUN on scratch runs the stage's platform's binaries: the
            // same steps for two platforms are two results.
            me.key = key_of({{"scratch", true}, {"platform", st.platform}});
        }
        me.own_first = me.steps.size();
        for (const auto& step : st.steps) {
            StepOutcome o;
            o.history.created_by = step.created_by;
            o.history.empty_layer = true;
            me.steps.push_back(o);
        }
    };
    return begin;
}

// The key jobs of one stage: its beginning, then one per file-system step,
// each after the one before it and after the stages its op reads. The steps
// are kept in `steps` for the run jobs.
void add_stage_jobs(SolveRun& run, int si, std::vector<Job>& jobs, std::vector<StepJob>& steps) {
    const frontend::Stage& stage = run.plan.stages[static_cast<size_t>(si)];
    StageState& state = *run.states[static_cast<size_t>(si)];
    jobs.push_back(begin_stage_job(run, si));
    size_t prev = jobs.size() - 1;
    const bool no_cache = skips_cache(stage, run.policy);

    // File-system steps are numbered as BuildKit numbers them: [stage i/n].
    size_t fs_total = 0;
    for (const auto& s : stage.steps)
        fs_total += s.kind != frontend::Step::Kind::metadata;
    size_t fs_index = 0;
    for (size_t i = 0; i < stage.steps.size(); ++i) {
        const frontend::Step& step = stage.steps[i];
        if (step.kind == frontend::Step::Kind::metadata)
            continue;
        ++fs_index;
        StepJob sj;
        sj.stage = si;
        sj.index = i;
        sj.name = "[" + run.policy.vertex_prefix + stage_label(stage, run.plan.stages.size()) +
                  std::to_string(fs_index) + "/" + std::to_string(fs_total) + "] " + step.text;
        // Scratch space of this step (fetched ADD sources, RUN's sandbox files).
        sj.work_dir =
            run.policy.work_dir / ("stage-" + std::to_string(si)) / ("step-" + std::to_string(i));
        sj.no_cache = no_cache;
        sj.in_image = in_image(run.plan, si);
        sj.op = make_op(step, run.run);
        sj.plan = std::make_shared<StepPlan>();
        steps.push_back(sj);
        Job job;
        job.name = sj.name;
        job.deps.push_back(prev);
        for (int r : sj.op->reads()) {
            const auto& src = *run.states[static_cast<size_t>(r)];
            if (!src.last_job)
                throw std::logic_error("a step reads a stage lowered later");
            job.deps.push_back(*src.last_job);
        }
        job.run = [&run, sj](const CancelFlag& cancel) { key_step_job(run, sj, cancel); };
        jobs.push_back(std::move(job));
        prev = jobs.size() - 1;
    }
    state.last_job = prev;
}

// The steps that missed and must run: those whose layers the image holds
// (the target and the stages it is built FROM), and those that a running
// step builds on or reads. A step that missed but only feeds hits does not
// run, so with its final stage cached a build stage need not run at all.
// Stages build on and read only stages with smaller indices, so one pass
// from the last stage down settles what each needs.
std::vector<std::vector<const StepJob*>> steps_to_run(
    const frontend::BuildPlan& plan, const std::vector<std::vector<StepJob>>& steps,
    std::vector<bool>& used) {
    const size_t n = plan.stages.size();
    std::vector<int> through(n, -1);  // the last own step whose result is needed
    used.assign(n, false);
    auto need_all = [&](int s) {
        used[static_cast<size_t>(s)] = true;
        through[static_cast<size_t>(s)] =
            static_cast<int>(plan.stages[static_cast<size_t>(s)].steps.size()) - 1;
    };
    for (int s = plan.target; s >= 0; s = plan.stages[static_cast<size_t>(s)].base_stage)
        need_all(s);
    // --no-cache-filter STAGE: the stage runs again even where only hits read it.
    for (size_t s = 0; s < n; ++s)
        if (std::any_of(steps[s].begin(), steps[s].end(),
                        [](const StepJob& sj) { return sj.no_cache; }))
            need_all(static_cast<int>(s));
    std::vector<std::vector<const StepJob*>> out(n);
    for (size_t s = n; s-- > 0;) {
        if (!used[s])
            continue;
        if (int base = plan.stages[s].base_stage; base >= 0)
            need_all(base);
        for (const auto& sj : steps[s]) {
            if (static_cast<int>(sj.index) > through[s] || !sj.plan->missed)
                continue;
            out[s].push_back(&sj);
            for (int r : sj.op->reads())
                need_all(r);
        }
    }
    return out;
}

// The run jobs: per stage that is used, first its base's final steps (some
// may have run only now), then its steps that must run, in order, each after
// the stages it reads.
std::vector<Job> run_jobs_of(SolveRun& run, const std::vector<std::vector<StepJob>>& steps) {
    std::vector<bool> used;
    const auto to_run = steps_to_run(run.plan, steps, used);
    std::vector<Job> jobs;
    std::vector<size_t> last(used.size());
    for (size_t s = 0; s < used.size(); ++s) {
        if (!used[s])
            continue;
        const int base = run.plan.stages[s].base_stage;
        Job rebase;
        rebase.name = "rebase stage " + std::to_string(s);
        if (base >= 0)
            rebase.deps.push_back(last[static_cast<size_t>(base)]);
        rebase.run = [&run, s, base](const CancelFlag&) {
            if (base < 0)
                return;
            const auto& from = run.states[static_cast<size_t>(base)]->steps;
            auto& me = *run.states[s];
            std::copy(from.begin(), from.end(), me.steps.begin());
        };
        jobs.push_back(std::move(rebase));
        size_t prev = jobs.size() - 1;
        for (const StepJob* sj : to_run[s]) {
            if (run.plan.stages[s].steps[sj->index].kind == frontend::Step::Kind::run)
                ++run.runs_left;
            Job job;
            job.name = sj->name;
            job.deps.push_back(prev);
            for (int r : sj->op->reads())
                job.deps.push_back(last[static_cast<size_t>(r)]);
            job.run = [&run, sj](const CancelFlag& cancel) { run_step_job(run, *sj, cancel); };
            jobs.push_back(std::move(job));
            prev = jobs.size() - 1;
        }
        last[s] = prev;
    }
    return jobs;
}

// The target stage's image once every job ran.
SolvedImage solved_image(SolveRun& run) {
    const frontend::BuildPlan& plan = run.plan;
    const frontend::Stage& target = plan.stages.at(static_cast<size_t>(plan.target));
    SolvedImage out;
    out.config = stage_config(target);
    // An image stage keeps its base's platform unless --platform said otherwise.
    for (int s = plan.target; s >= 0 && target.platform.empty();) {
        const auto& st = *run.states[static_cast<size_t>(s)];
        if (st.base_image) {
            out.config.os = st.base_image->config.os;
            out.config.architecture = st.base_image->config.architecture;
            out.config.variant = st.base_image->config.variant;
            break;
        }
        s = plan.stages[static_cast<size_t>(s)].base_stage;
    }
    out.steps = std::move(run.states[static_cast<size_t>(plan.target)]->steps);
    date_metadata_steps(out.steps, run.policy.now);
    for (const auto& st : out.steps)
        out.config.created = std::max(out.config.created, st.history.created);
    out.stats.steps_run = run.run_count;
    out.stats.steps_cached = run.cached_count;
    out.records = run.take_records();
    return out;
}

}  // namespace

std::ptrdiff_t cpu_slots() {
    return std::max(1u, std::thread::hardware_concurrency());
}

SolvedImage solve(const frontend::BuildPlan& plan, const SolveDeps& deps,
                  const SolvePolicy& policy) {
    NullProgress null_progress;
    Progress& progress = deps.progress ? *deps.progress : null_progress;
    std::vector<int> needed = plan.needed;
    if (needed.empty())
        needed.push_back(plan.target);
    check_images(plan, needed, deps, policy.dockerfile_name);
    check_entitlements(plan, needed, policy);
    if (!deps.write_layer || !deps.blobs || !deps.snapshots)
        throw std::logic_error("solve() needs write_layer, blobs and snapshots");

    std::optional<BuildContext> own_context;
    if (!deps.context)
        own_context.emplace(policy.context_dir, policy.ignore_patterns);
    const BuildContext& context = deps.context ? *deps.context : *own_context;
    StatCache scratch_stats(policy.work_dir / "stat-cache.json");
    StatCache& stats = deps.stats ? *deps.stats : scratch_stats;
    SolveRun run(plan, deps, policy, context, stats, progress);
    // First every step's key and lookup, then the steps that missed and are needed.
    std::vector<Job> jobs;
    std::vector<std::vector<StepJob>> steps(plan.stages.size());
    for (int si : needed)
        add_stage_jobs(run, si, jobs, steps[static_cast<size_t>(si)]);
    // Every ready step gets a thread unless --jobs caps them: CPU-bound work
    // shares the cores through SolveRun::cpu, and a RUN waiting for its
    // process takes none of them.
    auto workers = [&](const std::vector<Job>& js) {
        return policy.jobs ? policy.jobs
                           : static_cast<unsigned>(std::clamp<size_t>(js.size(), 1, 64));
    };
    run_jobs(jobs, workers(jobs), deps.cancel);
    auto runs = run_jobs_of(run, steps);
    run_jobs(runs, workers(runs), deps.cancel);
    stats.save();
    return solved_image(run);
}

}  // namespace kiln::solver
