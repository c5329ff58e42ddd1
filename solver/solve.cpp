#include "solver/solve.h"

#include <sys/stat.h>

#include <memory>
#include <thread>

#include "content/error.h"
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

namespace {

std::string stage_label(const frontend::Stage& st, size_t total_stages) {
    if (!st.name.empty())
        return st.name + " ";
    if (total_stages > 1)
        return "stage-" + std::to_string(st.index) + " ";
    return "";
}

}  // namespace

SolvedImage solve(const frontend::BuildPlan& plan, const SolveOptions& options) {
    NullProgress null_progress;
    Progress& progress = options.progress ? *options.progress : null_progress;
    const frontend::Stage& stage = plan.stages.at(static_cast<size_t>(plan.target));

    SolvedImage out;
    out.config.os = "linux";
    out.config.architecture = "amd64";
    if (!stage.platform.empty()) {
        auto first = stage.platform.find('/');
        out.config.os = stage.platform.substr(0, first);
        out.config.architecture = stage.platform.substr(first + 1);
    }
    out.config.config = to_run_config(stage.settings);
    out.config.author = stage.settings.maintainer;
    out.steps.resize(stage.steps.size());

    BuildContext context(options.context_dir, options.ignore_patterns);
    fs::path rootfs = options.work_dir / "rootfs";
    fs::create_directories(rootfs);
    ::chmod(rootfs.c_str(), 0755);

    // File-system steps are numbered as BuildKit numbers them: [stage i/n].
    size_t fs_total = 0;
    for (const auto& s : stage.steps)
        fs_total += s.kind != frontend::Step::Kind::metadata;

    std::vector<Job> jobs;
    size_t fs_index = 0;
    for (size_t i = 0; i < stage.steps.size(); ++i) {
        const frontend::Step& step = stage.steps[i];
        StepOutcome& outcome = out.steps[i];
        outcome.history.created_by = step.created_by;
        outcome.history.empty_layer = true;
        if (step.kind == frontend::Step::Kind::metadata)
            continue;
        ++fs_index;
        std::string name = "[" + stage_label(stage, plan.stages.size()) + std::to_string(fs_index) +
                           "/" + std::to_string(fs_total) + "] " + step.text;
        fs::path layer = options.work_dir / ("layer-" + std::to_string(i));
        Job job;
        job.name = name;
        if (!jobs.empty())
            job.deps.push_back(jobs.size() - 1);  // steps of a stage form a chain
        job.run = [&, name, layer, i](const CancelFlag& cancel) {
            if (cancel)
                return;
            VertexScope vertex(progress, name);
            try {
                fs::create_directories(layer);
                bool changed = true;
                if (step.kind == frontend::Step::Kind::copy) {
                    run_copy(step.copy, context, rootfs, layer);
                } else {
                    changed = run_mkdir(step.workdir, rootfs, layer);
                }
                if (changed) {
                    out.steps[i].layer = layer;
                    out.steps[i].history.empty_layer = false;
                }
                vertex.done();
            } catch (const Error& e) {
                std::string msg = options.dockerfile_name + ":" + std::to_string(step.line) + ": " +
                                  step.keyword + " failed: " + e.what();
                vertex.error(msg);
                throw Error(msg);
            }
        };
        jobs.push_back(std::move(job));
    }
    unsigned workers =
        options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
    run_jobs(jobs, workers);
    return out;
}

}  // namespace kiln::solver
