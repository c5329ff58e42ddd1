#include "build/build.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <semaphore>

#include "base/error.h"
#include "base/reference.h"
#include "base/thread_pool.h"
#include "build/base_images.h"
#include "build/named_contexts.h"
#include "build/outputs.h"
#include "build/platforms.h"
#include "build/remote_context.h"
#include "build/run_settings.h"
#include "build/store_ops.h"
#include "content/atomic_file.h"
#include "content/image_store.h"
#include "content/temp_dir.h"
#include "exporter/annotations.h"
#include "exporter/image_commit.h"
#include "exporter/output_spec.h"
#include "frontend/dockerignore.h"
#include "frontend/lint.h"
#include "frontend/lower.h"
#include "frontend/outline.h"
#include "frontend/parser.h"
#include "gc/collect.h"
#include "registry/lazy_fetch.h"
#include "remote_cache/cache_export.h"
#include "remote_cache/shared_cache.h"
#include "sandbox/runc_executor.h"
#include "snapshotter/snapshotter.h"
#include "solver/build_context.h"
#include "solver/key_claims.h"
#include "solver/solve.h"

namespace kiln::build {

namespace fs = std::filesystem;

namespace {

// Where the Dockerfile comes from and the name errors give it.
struct Definition {
    std::string path;  // "" when it came as text (stdin)
    std::string display_name;
    std::string text;
    frontend::ParseResult parsed;
};

Definition read_definition(const BuildRequest& req, Progress& progress) {
    Definition d;
    if (req.dockerfile == "-") {
        d.display_name = "Dockerfile";
    } else {
        d.path = req.dockerfile.empty() ? (fs::path(req.context) / "Dockerfile").string()
                                        : req.dockerfile;
        d.display_name = fs::path(d.path).filename().string();
    }
    VertexScope v(progress, "[internal] load build definition from " + d.display_name);
    if (d.path.empty()) {
        d.text = req.dockerfile_text;
    } else {
        std::error_code ec;
        if (!fs::is_regular_file(d.path, ec))
            throw Error(
                "failed to read dockerfile: " + d.path + ": " +
                (fs::exists(d.path, ec) ? "not a regular file" : "no such file or directory"));
        d.text = read_file(d.path);
    }
    v.log("transferring dockerfile: " + std::to_string(d.text.size()) + "B done");
    v.done();
    d.parsed = frontend::parse_dockerfile(d.text, d.display_name);
    frontend::check_instruction_names(d.parsed, d.display_name, d.text);
    if (auto it = d.parsed.directives.find("syntax"); it != d.parsed.directives.end())
        progress.warn("# syntax=" + it->second +
                      " is ignored: kiln builds with its own Dockerfile frontend");
    return d;
}

std::vector<std::string> read_dockerignore(const BuildRequest& req, const Definition& def,
                                           Progress& progress) {
    VertexScope v(progress, "[internal] load .dockerignore");
    std::vector<std::string> ignore;
    auto chosen = frontend::choose_dockerignore(def.path, req.context, [](const std::string& p) {
        std::error_code e;
        return fs::is_regular_file(p, e);
    });
    if (chosen) {
        try {
            ignore = frontend::parse_dockerignore(read_file(*chosen));
            frontend::PatternMatcher check(ignore);  // refused here, naming the file
        } catch (const frontend::PatternError& e) {
            throw Error(*chosen + ": " + e.what());
        }
    }
    v.done();
    return ignore;
}

// What every lowering of the request's Dockerfile for `platforms` starts from.
frontend::LowerOptions lower_options(const BuildRequest& req, const Definition& def,
                                     const Platforms& platforms) {
    frontend::LowerOptions lo;
    lo.filename = def.display_name;
    lo.source = def.text;
    lo.build_args = req.build_args;
    lo.target = req.target;
    lo.os = platforms.target.os;
    lo.arch = platforms.target.architecture;
    lo.variant = platforms.target.variant;
    lo.build_os = platforms.build.os;
    lo.build_arch = platforms.build.architecture;
    lo.build_variant = platforms.build.variant;
    // Only a foreign target changes the stages' platforms: `--platform` naming
    // this machine's builds (and keys) exactly what no flag does.
    if (platforms.foreign)
        lo.default_platform = platforms.target.str();
    return lo;
}

// The lowered plan, or nullopt after --check (the warnings are counted in `checked`).
std::optional<frontend::BuildPlan> lower_plan(const BuildRequest& req, const Definition& def,
                                              const std::vector<std::string>& ignore,
                                              const Platforms& platforms, BaseImages& bases,
                                              const NamedContexts& named, Progress& progress,
                                              std::optional<std::size_t>& checked) {
    frontend::Linter linter(def.parsed, def.display_name);
    frontend::run_syntax_checks(def.parsed, linter);
    frontend::LowerOptions lo = lower_options(req, def, platforms);
    lo.linter = &linter;
    lo.ignore_patterns = ignore;
    lo.named_contexts = named.for_lowering();
    lo.all_stages = req.check;  // --check looks at every stage, as BuildKit does
    lo.image_settings = [&](const std::string& ref,
                            const std::string& platform) -> std::optional<frontend::ImageSettings> {
        auto img = bases.resolve(ref, platform);
        if (!img)
            return std::nullopt;
        return solver::from_run_config(img->config.config, img->config.author);
    };
    lo.onbuild_triggers = [&](const std::string& ref, const std::string& platform) {
        auto img = bases.resolve(ref, platform);
        return img ? img->config.config.on_build : std::vector<std::string>{};
    };
    auto plan = frontend::lower(def.parsed, lo);
    for (const auto& w : linter.warnings())
        progress.warn(linter.format(w));
    for (const auto& w : plan.warnings)
        progress.warn(w);
    if (!plan.unused_build_args.empty()) {
        std::string list;
        for (const auto& a : plan.unused_build_args)
            list += (list.empty() ? "" : " ") + a;
        progress.warn("one or more build-args [" + list + "] were not consumed");
    }
    if (req.check) {
        checked = linter.warnings().size();
        return std::nullopt;
    }
    if (linter.error_on_warning() && !linter.warnings().empty())
        throw Error(linter.violation_error());
    return plan;
}

// --call outline / targets: the Dockerfile described, nothing built (no base
// image is resolved: a stage on an image starts from what the file says).
std::string describe(const BuildRequest& req, const Definition& def, const Platforms& platforms,
                     const std::map<std::string, BuildContextSpec>& contexts) {
    if (req.call == "targets")
        return frontend::format_targets(frontend::targets(def.parsed));
    frontend::LowerOptions lo = lower_options(req, def, platforms);
    for (const auto& [name, spec] : contexts)
        lo.named_contexts[name] = {
            spec.kind, spec.kind == frontend::NamedContext::Kind::local ? name : spec.value};
    return frontend::format_outline(frontend::outline(def.parsed, lo));
}

// As buildx's --metadata-file: after a push, the digest is the one the
// registry has (layers compressed); the local store's (uncompressed) is kiln's own key.
void write_metadata(const BuildRequest& req, const BuildResult& result, std::size_t files_read) {
    const std::string digest = result.pushed_digest.empty() ? result.digest : result.pushed_digest;
    nlohmann::json meta{
        {"containerimage.digest", digest},
        {"containerimage.descriptor",
         {{"mediaType", result.media_type}, {"digest", digest}, {"size", result.size}}},
        {"kiln.image.digest", result.digest}};
    if (!result.config_digest.empty())
        meta["containerimage.config.digest"] = result.config_digest;
    std::string names;
    for (const auto& t : req.tags)
        names += (names.empty() ? "" : ",") + content::normalize_name(t);
    if (!names.empty())
        meta["image.name"] = names;
    // kiln's own: what the cache did (tests and CI logs read this).
    meta["kiln.steps.run"] = result.steps_run;
    meta["kiln.steps.cached"] = result.steps_cached;
    meta["kiln.context.files_read"] = files_read;
    write_file_atomic(req.metadata_file, meta.dump(2) + "\n");
}

// What RUN steps need while the solves last: the build's work directory and
// the executor (runc unless the request brings one) with the build's private
// network, which lives in the work directory. Shared by every platform's
// solve; taken down beside the export (see build()).
struct BuildSandbox {
    TempDir work;
    std::unique_ptr<sandbox::RuncExecutor> runc;  // destroyed before `work`
};

std::unique_ptr<BuildSandbox> make_sandbox(const BuildRequest& req,
                                           const content::StateRoot& root) {
    auto box = std::make_unique<BuildSandbox>(BuildSandbox{TempDir(root.tmp(), "build-"), {}});
    if (!req.executor)
        box->runc =
            std::make_unique<sandbox::RuncExecutor>(req.runtime, box->work.path() / "network");
    return box;
}

// Whether the Dockerfile has a RUN that may join the build's private network
// (ONBUILD triggers of base images are not looked at).
bool may_use_private_network(const frontend::ParseResult& parsed, const std::string& network) {
    if (network == "none" || network == "host")
        return false;
    for (const auto& node : parsed.children)
        if (node.keyword == "run")
            return true;
    return false;
}

// Runs the plan's steps: snapshots, the step cache and the executor (runc
// unless the request brings one) live as long as the solve. The platforms of
// one build solve at once, sharing what does not depend on the target
// (`Shared`): the context and its stat cache (read once), the CPU slots, the
// key claims and the cancel flag (a failing one stops the others).
struct Shared {
    // `context_name`: what the user named the context (a directory's absolute
    // path, a URL), so each has one stat cache however it is fetched.
    Shared(const BuildRequest& req, const std::string& context_name,
           const std::vector<std::string>& ignore, const content::StateRoot& root, bool several,
           const NamedContexts& named_contexts)
        : stats(root.cache() / "stat" / std::string(content::Digest::of(context_name).hex())),
          cpu(solver::cpu_slots()),
          named(named_contexts.for_solve()) {
        if (several)
            context.emplace(req.context, ignore, true);
    }
    solver::StatCache stats;  // one per context directory
    std::optional<solver::BuildContext> context;
    std::counting_semaphore<> cpu;
    std::map<std::string, const solver::NamedContext*> named;  // --build-context directories
};

solver::SolvedImage solve_plan(const BuildRequest& req, const frontend::BuildPlan& plan,
                               const Definition& def, const std::vector<std::string>& ignore,
                               const content::StateRoot& root, BaseImages& bases,
                               const remote_cache::SharedCache& shared, Progress& progress,
                               std::optional<std::int64_t> epoch, snapshotter::Snapshotter& snaps,
                               const BuildSandbox& box, std::size_t platform_index,
                               const std::string& vertex_prefix,
                               const sandbox::BuildSettings& run_settings, Shared& together,
                               solver::KeyClaims* claims, std::atomic<bool>* cancel) {
    const TempDir& work = box.work;
    solver::CacheStore cache(root.cache() / "steps", root.blobs());
    sandbox::RuncExecutor* runc = box.runc.get();
    solver::SolveDeps deps;
    deps.progress = &progress;
    deps.resolve_image = [&](const std::string& ref, const std::string& platform) {
        return bases.resolve(ref, platform);
    };
    deps.why_missing = [&](const std::string& ref) { return bases.why_missing(ref); };
    deps.blobs = &root.blobs();
    deps.write_layer = [&](const fs::path& tree, bool overlay_whiteouts,
                           const solver::OmitDir& omit, const solver::LayerHints& hints) {
        return exporter::store_layer_tree(root, tree, overlay_whiteouts, omit, epoch, hints);
    };
    deps.snapshots = &snaps;
    deps.executor = req.executor ? req.executor : runc;
    deps.cancel = cancel;
    deps.claims = claims;
    deps.cache = &cache;
    deps.stats = &together.stats;
    deps.context = together.context ? &*together.context : nullptr;
    deps.cpu = &together.cpu;
    deps.named_contexts = together.named;
    if (shared.size()) {
        deps.shared_cache = [&](const content::Digest& key) { return shared.get(key); };
        deps.shared_records = [&] { return shared.all(); };
    }
    solver::SolvePolicy policy;
    policy.context_dir = req.context;
    policy.ignore_patterns = ignore;
    // Each platform's solve has scratch space of its own.
    policy.work_dir = work.path() / ("platform-" + std::to_string(platform_index));
    policy.vertex_prefix = vertex_prefix;
    policy.dockerfile_name = def.display_name;
    policy.jobs = req.jobs;
    policy.network = req.network == "default" ? "" : req.network;
    policy.allow_network_host = req.allow.network_host;
    policy.allow_insecure = req.allow.insecure;
    for (const auto& [id, s] : req.secrets)
        policy.secrets[id] = solver::SecretSource{s.file, s.value};
    policy.ssh_socket = req.ssh_socket;
    policy.cache_mounts = root.cache() / "mounts";
    policy.run_settings = run_settings;
    policy.no_cache = req.no_cache;
    policy.no_cache_stages = req.no_cache_stages;
    policy.explain_cache = req.explain_cache;
    policy.now = exporter::build_time(epoch);
    policy.key_salt = epoch ? "source-date-epoch=" + std::to_string(*epoch) : "";
    return solver::solve(plan, deps, policy);
}

// Runs `solve(i, claims, cancel)` for each of `n` platforms at once, one
// thread each (one platform: on this thread). A failing one stops the others
// through the shared cancel flag (the request's, when it has one) and its
// error is the one thrown, not the others' kiln::Cancelled.
std::vector<solver::SolvedImage> solve_platforms(
    std::size_t n,
    const std::function<solver::SolvedImage(std::size_t, solver::KeyClaims*, std::atomic<bool>*)>&
        solve,
    std::atomic<bool>* request_cancel) {
    std::atomic<bool> own_cancel{false};
    std::atomic<bool>* cancel = request_cancel ? request_cancel : &own_cancel;
    if (n == 1)
        return {solve(0, nullptr, cancel)};
    solver::KeyClaims claims;
    std::vector<std::future<solver::SolvedImage>> running;
    for (std::size_t i = 0; i < n; ++i)
        running.push_back(std::async(std::launch::async, [&, i] {
            try {
                return solve(i, &claims, cancel);
            } catch (const Cancelled&) {
                throw;
            } catch (...) {
                *cancel = true;
                throw;
            }
        }));
    std::vector<solver::SolvedImage> out;
    std::exception_ptr first, cancelled;
    for (auto& f : running) {
        try {
            out.push_back(f.get());
        } catch (const Cancelled&) {
            if (!cancelled)
                cancelled = std::current_exception();
        } catch (...) {
            if (!first)
                first = std::current_exception();
        }
    }
    if (first)
        std::rethrow_exception(first);
    if (cancelled)
        std::rethrow_exception(cancelled);
    return out;
}

// The automatic collection (gc/collect.h): silent when there is nothing to
// do, a line when it removed something, a warning when it failed.
void collect_garbage(const content::StateRoot& root, gc::Lease& lease, std::int64_t keep_storage,
                     std::int64_t started, Progress& progress) {
    std::string error;
    auto plan = gc::collect_after_build(root, lease, keep_storage, started, &error);
    if (!error.empty())
        progress.warn("automatic garbage collection: " + error);
    if (!plan || (plan->units.empty() && plan->blobs.empty()))
        return;
    VertexScope v(progress, "[internal] garbage collection");
    v.log("store over its limit of " + std::to_string(keep_storage) + " bytes: removed " +
          std::to_string(plan->units.size() + plan->blobs.size()) + " item(s), " +
          std::to_string(plan->freed) + " bytes");
    v.done();
}

// Names first, as buildx: a bad -t fails before any step runs, with the
// reference parser's reason (`invalid tag "X": ...`).
void check_tags(const BuildRequest& req) {
    for (const auto& t : req.tags) {
        try {
            kiln::parse_reference(t, "tag");
        } catch (const Error& e) {
            throw UsageError(e.what());  // it names the tag
        }
    }
}

// The build of a local context directory; `context_name` is the remote
// context it was fetched from, "" for a directory given as one.
BuildResult build_local(const BuildRequest& req, const std::string& context_name) {
    NullProgress quiet;
    Progress& progress = req.progress ? *req.progress : quiet;
    check_tags(req);
    const auto context_specs = parse_build_contexts(req.build_contexts);
    if (req.network == "host" && !req.allow.network_host)
        throw UsageError("--network host is not allowed: add --allow network.host");
    const auto run_settings = parse_run_settings(req.add_hosts, req.shm_size, req.ulimits);
    std::error_code ec;
    if (!fs::is_directory(req.context, ec))
        throw Error("build context " + req.context + " is not a directory");
    const auto outputs = plan_outputs(req.outputs, req.tags, req.push);
    const auto platforms = platforms_of(req.platforms);
    const auto annotations = exporter::parse_annotations(req.annotations);
    exporter::check_annotations(annotations, platforms.size());
    if (platforms.size() > 1)
        for (const auto& o : outputs)
            if (o.type == "docker")
                throw Error(
                    "-o type=docker cannot hold several platforms (docker exporter does "
                    "not currently support exporting manifest lists): build one "
                    "--platform for it, or use -o type=oci");
    const auto epoch = exporter::source_date_epoch_from_env();

    std::vector<remote_cache::CacheSpec> cache_from, cache_to;
    for (const auto& s : req.cache_from)
        cache_from.push_back(remote_cache::parse_cache_spec(s, remote_cache::Direction::from));
    for (const auto& s : req.cache_to)
        cache_to.push_back(remote_cache::parse_cache_spec(s, remote_cache::Direction::to));

    const Definition def = read_definition(req, progress);
    if (req.call == "outline" || req.call == "targets") {
        BuildResult described;
        described.call_output = describe(req, def, platforms.front(), context_specs);
        return described;
    }
    const auto ignore = read_dockerignore(req, def, progress);
    content::StateRoot root(req.state_root);
    const std::int64_t keep_storage = gc::keep_storage_limit(root.path(), req.gc_keep_storage);
    auto lease = begin_writing(root);
    // What this build uses or makes is touched or written from now on.
    const std::int64_t started = lease.file_time_now();
    auto snapshots = snapshotter::open_snapshotter(root.snapshots(), req.snapshotter, root.tmp());
    BaseImages bases(root, progress, req.client, req.pull);
    bases.set_unpack(snapshots.get());
    const NamedContexts named_contexts(context_specs, root, bases, progress, req.cancel);
    // With a shared cache, layers (hits' and base images') are fetched only
    // when something reads them.
    registry::LayerFetcher fetcher(root, req.client);
    content::LazyLayers lazy(
        [&](const content::RemoteLayer& l, const content::Digest& d) { fetcher.fetch(l, d); });
    struct Detach {
        content::StateRoot& root;
        ~Detach() { root.set_lazy_layers(nullptr); }
    } detach{root};
    remote_cache::SharedCache shared;
    if (!cache_from.empty()) {
        root.set_lazy_layers(&lazy);
        bases.set_lazy(&lazy);
        shared = remote_cache::import_caches(cache_from, root, lazy, req.client, progress);
    }
    BuildResult result;
    auto box = make_sandbox(req, root);
    // A base image that has to be pulled means that steps on it will run: the
    // private network is made while it downloads rather than after.
    if (box->runc && !req.check && may_use_private_network(def.parsed, req.network))
        bases.set_on_pull([runc = box->runc.get()] { runc->prepare_network(); });
    // Each platform is lowered and checked before any runs, then all are
    // solved at once: a step that does not depend on the target (in a stage
    // FROM --platform=$BUILDPLATFORM that does not read TARGETARCH, a COPY on
    // scratch) has the same key for every platform, so it runs once
    // (solver/key_claims.h) and the other platforms take its record.
    const ImagePlatform image_platform =
        [&](const std::string& ref,
            const std::string& platform) -> std::optional<registry::PlatformSpec> {
        auto img = bases.resolve(ref, platform);  // resolved while lowering: no second pull
        if (!img)
            return std::nullopt;
        return registry::PlatformSpec{img->config.os, img->config.architecture,
                                      img->config.variant};
    };
    std::vector<frontend::BuildPlan> plans;
    for (const auto& p : platforms) {
        auto plan =
            lower_plan(req, def, ignore, p, bases, named_contexts, progress, result.check_warnings);
        if (!plan)
            return result;
        for (const auto& w : base_platform_warnings(*plan, p, def.display_name, image_platform))
            progress.warn(w);
        if (!req.executor)  // a test's executor runs no binaries
            check_runnable(*plan, p, def.display_name, image_platform);
        plans.push_back(std::move(*plan));
    }
    const bool several = platforms.size() > 1;
    Shared together(
        req,
        context_name.empty() ? fs::absolute(req.context).lexically_normal().string() : context_name,
        ignore, root, several, named_contexts);
    std::vector<solver::SolvedImage> solved = solve_platforms(
        plans.size(),
        [&](std::size_t i, solver::KeyClaims* claims, std::atomic<bool>* cancel) {
            return solve_plan(req, plans[i], def, ignore, root, bases, shared, progress, epoch,
                              *snapshots, *box, i, several ? platforms[i].target.str() + " " : "",
                              run_settings, together, claims, cancel);
        },
        req.cancel);
    // Taking the sandbox down waits for slirp4netns to exit (the kernel tearing
    // down its namespace, ~20 ms) and removes the steps' bundles: beside the
    // export, waited for on every path out.
    bases.set_on_pull({});  // it may name the executor, which goes now
    auto teardown = std::async(std::launch::async, [b = std::move(box)]() mutable { b.reset(); });
    for (auto& image : solved) {
        for (const auto& [k, v] : req.labels)
            image.config.config.labels[k] = v;
        if (req.cancel && *req.cancel)
            throw Cancelled();
        if (std::any_of(cache_to.begin(), cache_to.end(),
                        [](const auto& s) { return s.type == "inline"; })) {
            std::vector<content::Digest> diff_ids;
            for (const auto& st : image.steps)
                if (st.stored_layer)
                    diff_ids.push_back(st.stored_layer->digest);
            image.config.kiln_cache = remote_cache::inline_records(image.records, diff_ids);
        }
        // Outputs that need the layers' bytes get them before the commit, so the
        // manifest states every layer's real size; a push-only build fetches none.
        if (std::any_of(outputs.begin(), outputs.end(), [](const exporter::OutputSpec& o) {
                return o.type != "registry" && !(o.type == "image" && o.get("push") == "true");
            }))
            parallel_for(image.steps.size(), 4, [&](std::size_t j) {
                if (const auto& l = image.steps[j].stored_layer)
                    root.blobs().ensure(l->digest);
            });
    }

    std::vector<exporter::CommittedImage> images;
    std::optional<exporter::CommittedIndex> index;
    {
        VertexScope v(progress, "exporting to image");
        for (const auto& s : solved) {
            images.push_back(exporter::commit_image(root, s, annotations));
            v.log("writing image " + images.back().manifest_descriptor.digest.str() + " done");
        }
        if (several) {
            index = exporter::commit_index(root, images, annotations);
            v.log("writing index " + index->descriptor.digest.str() + " done");
        }
        v.done();
    }
    auto pushed =
        index ? export_index_outputs(root, *index, outputs, req.tags, req.client, progress)
              : export_outputs(root, images.front(), outputs, req.tags, req.client, progress);
    // A step the platforms share (one key) is one record, in an image if it
    // is in any platform's.
    std::vector<solver::SolvedRecord> records;
    std::map<content::Digest, std::size_t> recorded;
    for (const auto& s : solved) {
        for (const auto& r : s.records) {
            auto [at, first] = recorded.try_emplace(r.key, records.size());
            if (first)
                records.push_back(r);
            else
                records[at->second].in_image |= r.in_image;
        }
        result.steps_run += s.stats.steps_run;
        result.steps_cached += s.stats.steps_cached;
    }
    remote_cache::export_caches(cache_to, records, root, req.client, progress);
    bases.name_complete();
    result.digest =
        index ? index->descriptor.digest.str() : images.front().manifest_descriptor.digest.str();
    const content::Descriptor& named = pushed  ? *pushed
                                       : index ? index->descriptor
                                               : images.front().manifest_descriptor;
    result.pushed_digest = pushed ? pushed->digest.str() : "";
    result.wrote_stdout = std::any_of(outputs.begin(), outputs.end(), exporter::to_stdout);
    result.media_type = named.media_type;
    result.size = named.size;
    if (!index)  // as buildx, whose metadata for an index names no config
        result.config_digest = images.front().manifest.config.digest.str();
    if (!req.iidfile.empty())
        write_file_atomic(req.iidfile, result.digest);
    if (!req.metadata_file.empty())
        write_metadata(req, result, together.stats.reads());
    if (req.gc)
        collect_garbage(root, lease, keep_storage, started, progress);
    return result;
}

}  // namespace

BuildResult build(const BuildRequest& req) {
    if (!is_remote_context(req.context))
        return build_local(req, "");
    // A git repository, a tarball URL or stdin: the flags are checked before
    // anything is fetched, then the build runs on the fetched directory.
    check_tags(req);
    parse_build_contexts(req.build_contexts);
    plan_outputs(req.outputs, req.tags, req.push);
    exporter::check_annotations(exporter::parse_annotations(req.annotations),
                                platforms_of(req.platforms).size());
    parse_run_settings(req.add_hosts, req.shm_size, req.ulimits);
    if (req.context == "-" && req.dockerfile == "-")
        throw UsageError("the build context and the Dockerfile cannot both come from stdin");
    if (req.context == "-" && !req.context_stdin)
        throw UsageError("a build context from stdin (-) needs standard input");
    NullProgress quiet;
    content::StateRoot root(req.state_root);
    auto remote = fetch_context(req.context, req.context_stdin, root,
                                req.progress ? *req.progress : quiet, req.cancel);
    BuildRequest local = req;
    local.context = remote.context().string();
    // -f names a file in the fetched context, as with docker build URL.
    if (!req.dockerfile.empty() && req.dockerfile != "-" && fs::path(req.dockerfile).is_relative())
        local.dockerfile = (remote.context() / req.dockerfile).string();
    if (remote.dockerfile) {  // what came was the Dockerfile: the context is empty
        std::filesystem::create_directories(local.context);
        local.dockerfile = "-";
        local.dockerfile_text = *remote.dockerfile;
    }
    return build_local(local, req.context);
}

}  // namespace kiln::build
