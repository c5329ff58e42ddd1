#include "solver/solve.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "base/error.h"
#include "sandbox/network.h"
#include "snapshotter/layer_apply.h"
#include "solver/add_op.h"
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

// Images a build needs and the store lacks are reported before any work
// starts, so a build never fails half-way for them.
void check_images(const frontend::BuildPlan& plan, const std::vector<int>& needed,
                  const SolveOptions& o) {
    for (int i : needed) {
        const frontend::Stage& st = plan.stages[static_cast<size_t>(i)];
        if (st.base_stage < 0 && !is_scratch(st.base) &&
            !(o.resolve_image && o.resolve_image(st.base))) {
            std::string why = o.why_missing ? o.why_missing(st.base) : "";
            throw Error(o.dockerfile_name + ":" + std::to_string(st.line) + ": FROM " + st.base +
                        ": " + (why.empty() ? "no such image in the local store" : why));
        }
        for (const auto& step : st.steps) {
            if (step.kind != frontend::Step::Kind::copy)
                continue;
            const auto& c = step.copy;
            if (!c.from.empty() && c.from_stage < 0 &&
                !(o.resolve_image && o.resolve_image(c.from))) {
                std::string why = o.why_missing ? o.why_missing(c.from) : "";
                throw Error(o.dockerfile_name + ":" + std::to_string(step.line) +
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

// The running state of one stage: what its image holds so far (the base's
// steps, then its own) and the cache key of its file system so far.
struct StageState {
    std::optional<content::StoredImage> base_image;  // FROM <image>
    std::vector<StepOutcome> steps;
    size_t own_first = 0;            // index in `steps` of this stage's first own step
    content::Digest key;             // of the file system after the steps run so far
    std::optional<size_t> last_job;  // the job that finishes the stage
};

// A layer's snapshot is named by its chain ID (the OCI image spec's: the
// diffID of the bottom layer, then sha256(parent chain ID + " " + diffID)),
// so equal layers at different heights — two RUNs that change the same
// thing — are different snapshots and a stack never repeats one.
std::string chain_id(const std::string& parent, const content::Digest& diff_id) {
    return parent.empty() ? diff_id.str() : content::Digest::of(parent + " " + diff_id.str()).str();
}

// For an overlay upper: an empty directory there is no change when the
// layers below hold the same directory (mode, owner, mtime) — it was only
// copied up because something was made and removed in it.
SolveOptions::OmitDir unchanged_in(const std::vector<std::string>& parents,
                                   const snapshotter::Snapshotter& snaps) {
    return [&parents, &snaps](const std::string& rel, const struct stat& st) {
        for (auto it = parents.rbegin(); it != parents.rend(); ++it) {
            struct stat lower;
            if (::lstat((snaps.path(*it) / rel).c_str(), &lower) != 0)
                continue;
            return S_ISDIR(lower.st_mode) && lower.st_mode == st.st_mode &&
                   lower.st_uid == st.st_uid && lower.st_gid == st.st_gid &&
                   lower.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                   lower.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
        }
        return false;  // new here
    };
}

// The snapshots (bottom first) of `layers`, made from the store's blobs
// where missing.
std::vector<std::string> layer_keys(const std::vector<content::Descriptor>& layers,
                                    snapshotter::Snapshotter& snaps,
                                    const content::BlobStore& blobs) {
    std::vector<std::string> chain;
    for (const auto& layer : layers) {
        const std::string key = chain_id(chain.empty() ? "" : chain.back(), layer.digest);
        if (!snaps.exists(key)) {
            auto reader = blobs.reader(layer.digest);
            snaps.apply(
                key, [&](void* buf, std::size_t n) { return reader.read(buf, n); },
                layer.digest.str());
        }
        chain.push_back(key);
    }
    return chain;
}

// The snapshots of a stage's steps so far.
std::vector<std::string> layer_chain(const StageState& state, snapshotter::Snapshotter& snaps,
                                     const content::BlobStore& blobs) {
    std::vector<content::Descriptor> layers;
    for (const auto& step : state.steps)
        if (step.stored_layer)
            layers.push_back(*step.stored_layer);
    return layer_keys(layers, snaps, blobs);
}

// An image's layers, by diffID (the store keeps them uncompressed).
std::vector<content::Descriptor> image_layers(const content::StoredImage& image) {
    std::vector<content::Descriptor> out = image.manifest.layers;
    for (size_t i = 0; i < out.size() && i < image.config.diff_ids.size(); ++i)
        out[i].digest = image.config.diff_ids[i];
    return out;
}

// A layer under a step that cannot be unpacked (refused or damaged): reported on the
// stage's FROM line rather than on the step that first needed it.
class BaseLayerError : public Error {
  public:
    using Error::Error;
};

content::Digest key_of(const nlohmann::json& j) {
    try {
        return content::Digest::of(j.dump());
    } catch (const nlohmann::json::type_error&) {
        // A name that is not UTF-8 (COPY caf\xe9 /f): CBOR keeps its bytes as they
        // are, so two different names never share a key.
        auto cbor = nlohmann::json::to_cbor(j);
        return content::Digest::of("cbor:" + std::string(cbor.begin(), cbor.end()));
    }
}

// What a RUN's cache key covers: the command, everything the process sees
// (env and build args, user, working directory, network, mounts and the
// content behind bind mounts) — never a secret's value.
nlohmann::json run_key(const frontend::Step& step,
                       const std::function<std::string(const frontend::MountSpec&)>& input) {
    const auto& r = step.run;
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : r.mounts) {
        mounts.push_back({{"type", m.type},
                          {"target", m.target},
                          {"source", m.source},
                          {"from", m.from},
                          {"ro", m.readonly},
                          {"id", m.id},
                          {"mode", m.mode},
                          {"uid", m.uid},
                          {"gid", m.gid},
                          {"env", m.env},
                          {"input", input(m)}});
    }
    std::vector<std::string> heredocs;
    for (const auto& h : r.heredocs)
        heredocs.push_back(h.name + "\n" + h.content);
    return {{"run", r.args},
            {"env", step.env},
            {"args", r.build_args},
            {"user", step.user},
            {"cwd", step.workdir_in_effect},
            {"network", r.network},
            {"security", r.security},
            {"mounts", mounts},
            {"heredocs", heredocs}};
}

// A tar with no entry is only its end blocks: such a "layer" is dropped.
std::optional<content::Descriptor> nonempty(const content::BlobStore& blobs,
                                            const content::Descriptor& layer) {
    std::string bytes = blobs.read_all(layer.digest);
    for (char c : bytes)
        if (c != '\0')
            return layer;
    return std::nullopt;
}

// A base image's history, each entry paired with the layer it made.
std::vector<StepOutcome> base_steps(const content::StoredImage& image) {
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
    return steps;
}

// A metadata step (ENV, CMD, ...) has no record of its own: it takes the
// time of the file-system step before it (or after it, at the start of a
// stage), so cached rebuilds date it the same. `now` if there is none.
void date_metadata_steps(std::vector<StepOutcome>& steps, const std::string& now) {
    std::string last;
    for (auto& s : steps) {
        if (!s.history.created.empty())
            last = s.history.created;
        else if (!last.empty())
            s.history.created = last;
    }
    std::string next = now;
    for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
        if (it->history.created.empty())
            it->history.created = next;
        else
            next = it->history.created;
    }
}

}  // namespace

// RUN --network=host and --security=insecure need the build to be entitled
// (buildx's --allow): refused, naming the line, before any step runs.
static void check_entitlements(const frontend::BuildPlan& plan, const std::vector<int>& needed,
                               const SolveOptions& options) {
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

SolvedImage solve(const frontend::BuildPlan& plan, const SolveOptions& options) {
    NullProgress null_progress;
    Progress& progress = options.progress ? *options.progress : null_progress;
    std::vector<int> needed = plan.needed;
    if (needed.empty())
        needed.push_back(plan.target);
    check_images(plan, needed, options);
    check_entitlements(plan, needed, options);
    if (!options.write_layer || !options.blobs || !options.snapshots)
        throw std::logic_error("solve() needs write_layer, blobs and snapshots");

    BuildContext context(options.context_dir, options.ignore_patterns);
    StatCache scratch_stats(options.work_dir / "stat-cache.json");
    StatCache& stats = options.stats ? *options.stats : scratch_stats;
    // One state per stage, made up front: jobs hold references into them.
    std::vector<std::unique_ptr<StageState>> states;
    for (size_t i = 0; i < plan.stages.size(); ++i)
        states.push_back(std::make_unique<StageState>());
    std::vector<Job> jobs;
    std::atomic<size_t> run_count{0}, cached_count{0};
    // The build's private network, made when the first RUN needs it and shared by all.
    std::mutex network_mu;
    std::unique_ptr<sandbox::PrivateNetwork> network;
    auto private_network = [&]() -> fs::path {
        std::lock_guard lock(network_mu);
        if (!network)
            network = std::make_unique<sandbox::PrivateNetwork>(options.work_dir / "network");
        return network->netns_path();
    };

    for (int si : needed) {
        const frontend::Stage& stage = plan.stages[static_cast<size_t>(si)];
        StageState& state = *states[static_cast<size_t>(si)];
        bool stage_no_cache = options.no_cache;
        for (std::string n : options.no_cache_stages) {
            for (auto& ch : n)  // stage names are case-insensitive
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            stage_no_cache |= !stage.name.empty() && n == stage.name;
        }

        // The stage begins as its base: its steps, layers and key.
        Job begin;
        begin.name = "begin stage " + std::to_string(si);
        if (stage.base_stage >= 0) {
            auto& base = *states[static_cast<size_t>(stage.base_stage)];
            if (!base.last_job)
                throw std::logic_error("stage " + std::to_string(si) + " lowered before its base");
            begin.deps.push_back(*base.last_job);
        }
        begin.run = [&, si](const CancelFlag&) {
            const frontend::Stage& st = plan.stages[static_cast<size_t>(si)];
            StageState& me = *states[static_cast<size_t>(si)];
            if (st.base_stage >= 0) {
                const StageState& base = *states[static_cast<size_t>(st.base_stage)];
                me.steps = base.steps;
                me.key = base.key;
            } else if (!is_scratch(st.base)) {
                me.base_image = options.resolve_image(st.base);
                me.steps = base_steps(*me.base_image);
                me.key = key_of({{"image", me.base_image->descriptor.digest.str()}});
            } else {
                me.key = key_of({{"scratch", true}});
            }
            me.own_first = me.steps.size();
            for (const auto& step : st.steps) {
                StepOutcome o;
                o.history.created_by = step.created_by;
                o.history.empty_layer = true;
                me.steps.push_back(o);
            }
        };
        jobs.push_back(std::move(begin));
        size_t prev = jobs.size() - 1;

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
            // Scratch space of this step (fetched ADD sources, RUN's sandbox files).
            fs::path step_dir =
                options.work_dir / ("stage-" + std::to_string(si)) / ("step-" + std::to_string(i));
            Job job;
            job.name = name;
            job.deps.push_back(prev);
            int from = step.kind == frontend::Step::Kind::copy ? step.copy.from_stage : -1;
            // Stages this step reads: COPY --from, RUN --mount from=.
            std::vector<int> reads;
            if (from >= 0)
                reads.push_back(from);
            if (step.kind == frontend::Step::Kind::run)
                for (const auto& m : step.run.mounts)
                    if (m.from_stage >= 0)
                        reads.push_back(m.from_stage);
            for (int r : reads) {
                const auto& src = *states[static_cast<size_t>(r)];
                if (!src.last_job)
                    throw std::logic_error("a step reads a stage lowered later");
                job.deps.push_back(*src.last_job);
            }
            job.run = [&, name, step_dir, i, si, from, stage_no_cache](const CancelFlag& cancel) {
                if (cancel)
                    return;
                StageState& me = *states[static_cast<size_t>(si)];
                StepOutcome& outcome = me.steps[me.own_first + i];
                VertexScope vertex(progress, name);
                auto& snaps = *options.snapshots;
                try {
                    // The key: the file system before, what the step does, and
                    // the content of what it reads.
                    nlohmann::json k = {{"parent", me.key.str()}, {"salt", options.key_salt}};
                    // ADD fetches its URLs and repositories first: the key covers their content.
                    std::optional<AddInputs> add_inputs;
                    const fs::path& step_work = step_dir;
                    if (step.kind == frontend::Step::Kind::copy && step.copy.is_add) {
                        add_inputs = prepare_add(step.copy, step_work, &cancel);
                        k["add"] = {{"fetched", add_inputs->digest.str()},
                                    {"checksum", step.copy.checksum},
                                    {"unpack", step.copy.unpack},
                                    {"keep_git_dir", step.copy.keep_git_dir}};
                    }
                    if (step.kind == frontend::Step::Kind::copy) {
                        const auto& c = step.copy;
                        std::vector<std::string> heredocs;
                        for (const auto& h : c.heredocs)
                            heredocs.push_back(h.name + "\n" + h.content);
                        k["op"] = {{"copy", c.sources},
                                   {"dest", c.dest},
                                   {"dest_is_dir", c.dest_is_dir},
                                   {"chown", c.chown},
                                   {"chmod", c.chmod},
                                   {"heredocs", heredocs},
                                   {"excludes", c.excludes},
                                   {"parents", c.parents}};
                        std::optional<content::StoredImage> from_image;
                        if (from < 0 && !c.from.empty())
                            from_image = options.resolve_image(c.from);
                        k["input"] = from_image  ? from_image->descriptor.digest.str()
                                     : from >= 0 ? states[static_cast<size_t>(from)]->key.str()
                                                 : context
                                                       .sources_digest(
                                                           add_inputs ? add_inputs->context_sources
                                                                      : c.sources,
                                                           stats, c.excludes)
                                                       .str();
                    } else if (step.kind == frontend::Step::Kind::run) {
                        k["default_network"] = options.network;
                        k["op"] = run_key(step, [&](const frontend::MountSpec& m) {
                            if (m.from_stage >= 0)
                                return states[static_cast<size_t>(m.from_stage)]->key.str();
                            if (m.type == "bind" && m.from.empty())
                                return context
                                    .sources_digest({m.source.empty() ? "." : m.source}, stats)
                                    .str();
                            if (!m.from.empty()) {  // an image
                                auto image = options.resolve_image(m.from);
                                if (!image)
                                    throw Error("RUN --mount from=" + m.from +
                                                ": no such stage, and no such image in the "
                                                "local store");
                                return image->descriptor.digest.str();
                            }
                            return std::string();
                        });
                    } else {
                        // New directories belong to the USER in effect.
                        k["op"] = {{"workdir", step.workdir}, {"user", step.user}};
                    }
                    // COPY --link makes a layer that does not depend on the
                    // layers below (as BuildKit): its key leaves the parent out,
                    // and it is built on an empty root.
                    const bool linked = step.kind == frontend::Step::Kind::copy && step.copy.link;
                    if (linked)
                        k.erase("parent");
                    content::Digest key = key_of(k);
                    const content::Digest next_key =
                        linked ? key_of({{"parent", me.key.str()}, {"link", key.str()}}) : key;
                    std::optional<CacheRecord> hit;
                    if (options.cache && !stage_no_cache)
                        hit = options.cache->get(key);
                    if (hit) {
                        outcome.stored_layer = hit->layer;
                        outcome.history.created = hit->created;
                        outcome.history.empty_layer = !hit->layer;
                        me.key = next_key;
                        ++cached_count;
                        vertex.cached();
                        return;
                    }
                    // The step runs on a fresh writable snapshot over the
                    // layers before it; the layers are unpacked only now.
                    std::vector<std::string> parents;
                    try {
                        if (!linked)
                            parents = layer_chain(me, snaps, *options.blobs);
                    } catch (const Error& e) {
                        throw BaseLayerError(e.what());
                    }
                    auto active = snaps.prepare(parents);
                    // Read-only views of other stages, alive while the step runs.
                    std::map<int, std::unique_ptr<snapshotter::Active>> views;
                    auto view_of = [&](int stage) -> const fs::path& {
                        auto& v = views[stage];
                        if (!v) {
                            const StageState& src = *states[static_cast<size_t>(stage)];
                            v = snaps.view(layer_chain(src, snaps, *options.blobs));
                        }
                        return v->root();
                    };
                    std::optional<content::Descriptor> made;
                    if (step.kind == frontend::Step::Kind::copy) {
                        std::unique_ptr<BuildContext> stage_source;
                        const BuildContext* source = &context;
                        std::unique_ptr<snapshotter::Active> image_view;
                        if (from >= 0) {
                            stage_source = std::make_unique<BuildContext>(
                                view_of(from), std::vector<std::string>{});
                            source = stage_source.get();
                        } else if (!step.copy.from.empty()) {  // --from=<image>
                            auto image = options.resolve_image(step.copy.from);
                            image_view =
                                snaps.view(layer_keys(image_layers(*image), snaps, *options.blobs));
                            stage_source = std::make_unique<BuildContext>(
                                image_view->root(), std::vector<std::string>{});
                            source = stage_source.get();
                        }
                        // Written straight into the snapshot: its upper directory
                        // is the step's diff, as for RUN.
                        if (add_inputs)
                            run_add(step.copy, *add_inputs, *source, active->root(), step_work);
                        else
                            run_copy(step.copy, *source, active->root());
                        made = options.write_layer(active->upper(), true,
                                                   unchanged_in(parents, snaps));
                    } else if (step.kind == frontend::Step::Kind::run) {
                        RunContext rc;
                        rc.root = active->root();
                        rc.work_dir = step_dir / "run";
                        rc.cache_mounts = options.cache_mounts;
                        rc.secrets = options.secrets;
                        rc.ssh_socket = options.ssh_socket;
                        rc.runtime = options.runtime;
                        rc.default_network = options.network;
                        rc.private_network = private_network;
                        rc.cancel = &cancel;
                        rc.on_output = [&](std::string_view line) {
                            vertex.log(std::string(line));
                        };
                        std::vector<std::unique_ptr<snapshotter::Active>> image_views;
                        rc.mount_source = [&](const frontend::MountSpec& m) -> fs::path {
                            fs::path base;
                            if (m.from_stage >= 0) {
                                base = view_of(m.from_stage);
                            } else if (!m.from.empty()) {  // an image from the store
                                auto image = options.resolve_image(m.from);
                                image_views.push_back(snaps.view(
                                    layer_keys(image_layers(*image), snaps, *options.blobs)));
                                base = image_views.back()->root();
                            } else {
                                base = context.root();
                            }
                            if (m.source.empty() || m.source == "." || m.source == "/")
                                return base;
                            BuildContext scoped(base, {});
                            auto found = scoped.resolve(m.source);
                            return found.at(0).host_path;
                        };
                        run_step(step, rc);
                        made = options.write_layer(active->upper(), true,
                                                   unchanged_in(parents, snaps));
                    } else if (run_mkdir(step.workdir, active->root(),
                                         step.user.empty()
                                             ? Owner{}
                                             : parse_chown(step.user, active->root()))) {
                        made = options.write_layer(active->upper(), true,
                                                   unchanged_in(parents, snaps));
                    }
                    // A layer with no entry is no layer (a RUN that changed nothing).
                    if (made && made->size <= 1024)
                        made = nonempty(*options.blobs, *made);
                    if (made && !linked)
                        snaps.commit(*active,
                                     chain_id(parents.empty() ? "" : parents.back(), made->digest));
                    CacheRecord record;
                    record.created = options.now;
                    record.layer = made;
                    outcome.history.created = options.now;
                    outcome.stored_layer = made;
                    outcome.history.empty_layer = !made;
                    if (options.cache)
                        options.cache->put(key, record);
                    me.key = next_key;
                    ++run_count;
                    vertex.done();
                } catch (const BaseLayerError& e) {
                    // A layer below the step would not unpack: the FROM line brought it.
                    const frontend::Stage& st = plan.stages[static_cast<size_t>(si)];
                    std::string msg = options.dockerfile_name + ":" + std::to_string(st.line) +
                                      ": FROM " + st.base + ": " + e.what();
                    vertex.error(msg);
                    throw Error(msg);
                } catch (const Error& e) {
                    std::string msg = options.dockerfile_name + ":" + std::to_string(step.line) +
                                      ": " + step.keyword + " failed: " + e.what();
                    vertex.error(msg);
                    if (dynamic_cast<const Cancelled*>(&e))
                        throw Cancelled(msg);
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
    run_jobs(jobs, workers, options.cancel);
    stats.save();

    const frontend::Stage& target = plan.stages.at(static_cast<size_t>(plan.target));
    SolvedImage out;
    out.config = stage_config(target);
    // An image stage keeps its base's platform unless --platform said otherwise.
    for (int s = plan.target; s >= 0 && target.platform.empty();) {
        const auto& st = *states[static_cast<size_t>(s)];
        if (st.base_image) {
            out.config.os = st.base_image->config.os;
            out.config.architecture = st.base_image->config.architecture;
            out.config.variant = st.base_image->config.variant;
            break;
        }
        s = plan.stages[static_cast<size_t>(s)].base_stage;
    }
    out.steps = std::move(states[static_cast<size_t>(plan.target)]->steps);
    date_metadata_steps(out.steps, options.now);
    for (const auto& st : out.steps)
        out.config.created = std::max(out.config.created, st.history.created);
    out.stats.steps_run = run_count;
    out.stats.steps_cached = cached_count;
    return out;
}

}  // namespace kiln::solver
