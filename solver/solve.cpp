#include "solver/solve.h"

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "content/error.h"
#include "snapshotter/layer_apply.h"
#include "solver/build_context.h"
#include "solver/copy_op.h"
#include "solver/scheduler.h"

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

bool is_scratch(const std::string& base) {
    std::string b = base;
    for (auto& ch : b)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return b == "scratch";
}

std::string stage_label(const frontend::Stage& st, size_t total_stages) {
    if (!st.name.empty())
        return st.name + " ";
    if (total_stages > 1)
        return "stage-" + std::to_string(st.index) + " ";
    return "";
}

}  // namespace

namespace {

// What this engine cannot run yet is refused before any work starts, so a
// build never fails half-way for it.
void check_supported(const frontend::BuildPlan& plan, const std::vector<int>& needed,
                     const SolveOptions& o) {
    auto fail = [&](int line, const std::string& what) {
        throw Error(o.dockerfile_name + ":" + std::to_string(line) + ": " + what +
                    " is not supported by this version of kiln yet");
    };
    for (int i : needed) {
        const frontend::Stage& st = plan.stages[static_cast<size_t>(i)];
        if (st.base_stage < 0 && !is_scratch(st.base) &&
            !(o.resolve_image && o.resolve_image(st.base))) {
            throw Error(o.dockerfile_name + ":" + std::to_string(st.line) + ": FROM " + st.base +
                        ": no such image in the local store (kiln load it first)");
        }
        for (const auto& step : st.steps) {
            if (step.kind == frontend::Step::Kind::run)
                fail(step.line, "RUN");
            if (step.kind != frontend::Step::Kind::copy)
                continue;
            const auto& c = step.copy;
            if (c.is_add)
                fail(step.line, "ADD");
            if (!c.from.empty() && c.from_stage < 0)
                fail(step.line, "COPY --from=" + c.from + " (copying from an image)");
            if (c.link)
                fail(step.line, "COPY --link");
            if (c.parents)
                fail(step.line, "COPY --parents");
            if (!c.excludes.empty())
                fail(step.line, "COPY --exclude");
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

// The running state of one stage: its root file system and what its image
// will hold (the base stage's steps, then its own).
struct StageState {
    fs::path rootfs;
    std::optional<content::StoredImage> base_image;  // FROM <image>
    std::vector<StepOutcome> steps;
    size_t own_first = 0;            // index in `steps` of this stage's first own step
    std::optional<size_t> last_job;  // the job that finishes the stage
};

// Applies a base image's layers (verified as read) to `rootfs` and returns
// its history, each entry paired with the layer it made.
std::vector<StepOutcome> unpack_base(const content::StoredImage& image,
                                     const content::BlobStore& blobs, const fs::path& rootfs,
                                     Progress& progress, const std::string& vertex_name) {
    VertexScope vertex(progress, vertex_name);
    for (const auto& layer : image.manifest.layers) {
        auto reader = blobs.reader(layer.digest);
        snapshotter::apply_layer([&](void* buf, std::size_t n) { return reader.read(buf, n); },
                                 rootfs, "layer " + layer.digest.str());
    }
    std::vector<StepOutcome> steps;
    size_t next = 0;
    auto take_layer = [&](StepOutcome& o) {
        if (next < image.manifest.layers.size()) {
            o.stored_layer = image.manifest.layers[next];
            o.stored_layer->digest = image.config.diff_ids.at(next);
            ++next;
        }
    };
    for (const auto& h : image.config.history) {
        StepOutcome o;
        o.history = h;
        if (!h.empty_layer)
            take_layer(o);
        steps.push_back(o);
    }
    while (next < image.manifest.layers.size()) {  // layers without history
        StepOutcome o;
        take_layer(o);
        steps.push_back(o);
    }
    vertex.done();
    return steps;
}

}  // namespace

SolvedImage solve(const frontend::BuildPlan& plan, const SolveOptions& options) {
    NullProgress null_progress;
    Progress& progress = options.progress ? *options.progress : null_progress;
    std::vector<int> needed = plan.needed;
    if (needed.empty())
        needed.push_back(plan.target);
    check_supported(plan, needed, options);

    BuildContext context(options.context_dir, options.ignore_patterns);
    std::vector<StageState> states(plan.stages.size());
    // Stage roots are made only when the stage starts, so this vector does not
    // change size while jobs run (jobs hold references into it).
    std::vector<std::unique_ptr<BuildContext>> stage_sources(plan.stages.size());
    std::vector<Job> jobs;

    for (int si : needed) {
        const frontend::Stage& stage = plan.stages[static_cast<size_t>(si)];
        StageState& state = states[static_cast<size_t>(si)];
        state.rootfs = options.work_dir / ("stage-" + std::to_string(si)) / "rootfs";
        std::optional<size_t> prev;  // the job the next step of this stage waits for

        // The stage begins as its base: FROM scratch is empty, FROM <stage>
        // starts from a copy of that stage's root and image.
        Job begin;
        begin.name = "begin stage " + std::to_string(si);
        if (stage.base_stage >= 0) {
            auto& base = states[static_cast<size_t>(stage.base_stage)];
            if (!base.last_job)
                throw std::logic_error("stage " + std::to_string(si) + " lowered before its base");
            begin.deps.push_back(*base.last_job);
        }
        begin.run = [&, si](const CancelFlag&) {
            const frontend::Stage& st = plan.stages[static_cast<size_t>(si)];
            StageState& me = states[static_cast<size_t>(si)];
            fs::create_directories(me.rootfs);
            ::chmod(me.rootfs.c_str(), 0755);
            if (st.base_stage >= 0) {
                const StageState& base = states[static_cast<size_t>(st.base_stage)];
                // Hard links are safe: steps replace files, never write into them.
                copy_tree(base.rootfs, me.rootfs, merge_options(true));
                me.steps = base.steps;
            } else if (!is_scratch(st.base)) {
                me.base_image = options.resolve_image(st.base);
                me.steps = unpack_base(
                    *me.base_image, *options.blobs, me.rootfs, progress,
                    "[" + stage_label(st, plan.stages.size()) + "internal] " + "load " + st.base);
            }
            me.own_first = me.steps.size();
            for (const auto& step : st.steps) {
                StepOutcome o;
                o.history.created_by = step.created_by;
                o.history.empty_layer = true;
                me.steps.push_back(o);
            }
            stage_sources[static_cast<size_t>(si)] =
                std::make_unique<BuildContext>(me.rootfs, std::vector<std::string>{});
        };
        jobs.push_back(std::move(begin));
        prev = jobs.size() - 1;

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
            std::string name = "[" + stage_label(stage, plan.stages.size()) +
                               std::to_string(fs_index) + "/" + std::to_string(fs_total) + "] " +
                               step.text;
            fs::path layer =
                options.work_dir / ("stage-" + std::to_string(si)) / ("layer-" + std::to_string(i));
            Job job;
            job.name = name;
            job.deps.push_back(*prev);
            int from = step.kind == frontend::Step::Kind::copy ? step.copy.from_stage : -1;
            if (from >= 0) {
                const auto& src = states[static_cast<size_t>(from)];
                if (!src.last_job)
                    throw std::logic_error("COPY --from a stage lowered later");
                job.deps.push_back(*src.last_job);
            }
            job.run = [&, name, layer, i, si, from](const CancelFlag& cancel) {
                if (cancel)
                    return;
                StageState& me = states[static_cast<size_t>(si)];
                VertexScope vertex(progress, name);
                try {
                    fs::create_directories(layer);
                    bool changed = true;
                    if (step.kind == frontend::Step::Kind::copy) {
                        const BuildContext& source =
                            from >= 0 ? *stage_sources[static_cast<size_t>(from)] : context;
                        run_copy(step.copy, source, me.rootfs, layer);
                    } else {
                        changed = run_mkdir(step.workdir, me.rootfs, layer);
                    }
                    if (changed) {
                        StepOutcome& o = me.steps[me.own_first + i];
                        o.layer = layer;
                        o.history.empty_layer = false;
                    }
                    vertex.done();
                } catch (const Error& e) {
                    std::string msg = options.dockerfile_name + ":" + std::to_string(step.line) +
                                      ": " + step.keyword + " failed: " + e.what();
                    vertex.error(msg);
                    throw Error(msg);
                }
            };
            jobs.push_back(std::move(job));
            prev = jobs.size() - 1;
        }
        state.last_job = prev;
    }
    unsigned workers =
        options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
    run_jobs(jobs, workers);

    const frontend::Stage& target = plan.stages.at(static_cast<size_t>(plan.target));
    SolvedImage out;
    out.config = stage_config(target);
    // An image stage keeps its base's platform unless --platform said otherwise.
    for (int s = plan.target; s >= 0 && target.platform.empty();) {
        const auto& st = states[static_cast<size_t>(s)];
        if (st.base_image) {
            out.config.os = st.base_image->config.os;
            out.config.architecture = st.base_image->config.architecture;
            out.config.variant = st.base_image->config.variant;
            break;
        }
        s = plan.stages[static_cast<size_t>(s)].base_stage;
    }
    out.steps = std::move(states[static_cast<size_t>(plan.target)].steps);
    return out;
}

}  // namespace kiln::solver
