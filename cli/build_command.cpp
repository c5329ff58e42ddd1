// `kiln build`: read the Dockerfile, lower it, solve it, commit the image,
// export it to every requested output.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>

#include "base/error.h"
#include "cli/commands.h"
#include "cli/plain_progress.h"
#include "cli/registry_options.h"
#include "content/atomic_file.h"
#include "content/image_store.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "exporter/image_commit.h"
#include "exporter/output_spec.h"
#include "exporter/targets.h"
#include "frontend/dockerignore.h"
#include "frontend/lint.h"
#include "frontend/lower.h"
#include "frontend/parser.h"
#include "registry/platform.h"
#include "registry/pull.h"
#include "registry/reference.h"
#include "snapshotter/snapshotter.h"
#include "solver/solve.h"

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

std::string read_dockerfile(const std::string& path) {
    if (path == "-") {
        return std::string(std::istreambuf_iterator<char>(std::cin), {});
    }
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        throw Error("failed to read dockerfile: " + path + ": " +
                    (fs::exists(path, ec) ? "not a regular file" : "no such file or directory"));
    }
    return read_file(path);
}

std::map<std::string, std::string> parse_kv_list(const std::vector<std::string>& items,
                                                 const char* what, bool env_fallback) {
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        auto eq = item.find('=');
        if (eq == 0)
            throw Error(std::string("invalid ") + what + " \"" + item + "\"");
        if (eq == std::string::npos) {
            // Docker: --build-arg NAME takes NAME's value from the environment.
            if (!env_fallback)
                throw Error(std::string("invalid ") + what + " \"" + item + "\" (want K=V)");
            if (const char* v = std::getenv(item.c_str()))
                out[item] = v;
            continue;
        }
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

// --secret id=ID,src=PATH | id=ID,env=VAR (as buildx): values are read only
// when a RUN mounts them, and never enter a layer, the config or a cache key.
std::map<std::string, solver::SecretSource> parse_secrets(const std::vector<std::string>& specs) {
    std::map<std::string, solver::SecretSource> out;
    for (const auto& spec : specs) {
        std::map<std::string, std::string> kv;
        std::stringstream ss(spec);
        std::string field;
        while (std::getline(ss, field, ',')) {
            auto eq = field.find('=');
            if (eq == std::string::npos)
                throw Error("invalid --secret \"" + spec +
                            "\" (want id=ID,src=PATH or id=ID,env=VAR)");
            kv[field.substr(0, eq)] = field.substr(eq + 1);
        }
        std::string id = kv.count("id") ? kv["id"] : "";
        std::string src = kv.count("src") ? kv["src"] : (kv.count("source") ? kv["source"] : "");
        std::string env = kv.count("env") ? kv["env"] : "";
        if (id.empty())
            id = !env.empty() ? env : fs::path(src).filename().string();
        if (id.empty() || (src.empty() && env.empty()))
            throw Error("invalid --secret \"" + spec + "\" (want id=ID,src=PATH or id=ID,env=VAR)");
        solver::SecretSource s;
        if (!src.empty()) {
            std::error_code ec;
            if (!fs::is_regular_file(src, ec))
                throw Error("--secret " + id + ": " + src + ": no such file");
            s.file = fs::absolute(src).string();
        } else {
            const char* v = std::getenv(env.c_str());
            if (!v)
                throw Error("--secret " + id + ": environment variable " + env + " is not set");
            s.value = v;
        }
        out[id] = s;
    }
    return out;
}

std::unique_ptr<solver::Progress> make_progress(const std::string& mode) {
    if (mode == "quiet")
        return std::make_unique<QuietProgress>();
    // tty/auto fall back to plain until the live view exists.
    return std::make_unique<PlainProgress>(std::cerr);
}

}  // namespace

namespace {

struct Entitlements {
    bool network_host = false;
    bool insecure = false;
};

// --allow, as buildx: network.host and security.insecure, repeatable or comma-separated.
Entitlements parse_allow(const std::vector<std::string>& values) {
    Entitlements e;
    for (const auto& v : values) {
        std::stringstream ss(v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (item == "network.host")
                e.network_host = true;
            else if (item == "security.insecure")
                e.insecure = true;
            else
                throw Error("invalid --allow value \"" + item +
                            "\" (want network.host or security.insecure)");
        }
    }
    return e;
}

}  // namespace

int build(const std::optional<std::string>& root_flag, const BuildArgs& args) {
    // Names first, as buildx: a bad -t fails before any step runs, with the
    // reference parser's reason (`invalid tag "X": ...`).
    for (const auto& t : args.tags)
        registry::parse_reference(t, "tag");
    const Entitlements entitled = parse_allow(args.allow);
    if (args.network == "host" && !entitled.network_host)
        throw Error("--network host is not allowed: add --allow network.host");
    std::error_code ec;
    if (!fs::is_directory(args.context, ec))
        throw Error("build context " + args.context + " is not a directory");
    std::string dockerfile_path =
        args.file.empty() ? (fs::path(args.context) / "Dockerfile").string() : args.file;
    std::string display_name =
        args.file == "-" ? "Dockerfile" : fs::path(dockerfile_path).filename().string();

    // Validate outputs before any work.
    std::vector<exporter::OutputSpec> outputs;
    for (const auto& o : args.outputs)
        outputs.push_back(exporter::parse_output_spec(o));
    if (outputs.empty())
        outputs.push_back(exporter::parse_output_spec("type=image"));
    for (const auto& o : outputs)
        if (auto name = o.get("name"); !name.empty())
            registry::parse_reference(name, "name");
    if (args.push) {
        // --push: the image outputs also push (buildx's push=true); with
        // none, the image also goes to the registry.
        if (args.tags.empty())
            throw Error("--push needs a name to push to: add -t NAME");
        bool pushed = false;
        for (auto& o : outputs)
            if (o.type == "image" || o.type == "registry") {
                o.attrs["push"] = "true";
                pushed = true;
            }
        if (!pushed)
            outputs.push_back(exporter::parse_output_spec("type=registry"));
    }
    for (const auto& o : outputs)
        if ((o.type == "registry" || o.get("push") == "true") && args.tags.empty() &&
            o.get("name").empty())
            throw Error("pushing to a registry needs a name: -t NAME or -o type=registry,name=REF");
    auto epoch = exporter::source_date_epoch_from_env();

    auto progress = make_progress(args.progress);
    std::string text;
    {
        solver::VertexScope v(*progress, "[internal] load build definition from " + display_name);
        text = read_dockerfile(dockerfile_path);
        v.log("transferring dockerfile: " + std::to_string(text.size()) + "B done");
        v.done();
    }
    auto parsed = frontend::parse_dockerfile(text, display_name);
    frontend::check_instruction_names(parsed, display_name, text);
    if (auto it = parsed.directives.find("syntax"); it != parsed.directives.end()) {
        progress->warn("# syntax=" + it->second +
                       " is ignored: kiln builds with its own Dockerfile frontend");
    }

    std::vector<std::string> ignore;
    {
        solver::VertexScope v(*progress, "[internal] load .dockerignore");
        auto chosen = frontend::choose_dockerignore(args.file == "-" ? "" : dockerfile_path,
                                                    args.context, [](const std::string& p) {
                                                        std::error_code e;
                                                        return fs::is_regular_file(p, e);
                                                    });
        if (chosen)
            ignore = frontend::parse_dockerignore(read_file(*chosen));
        v.done();
    }

    content::StateRoot root(content::resolve_state_root(root_flag));
    content::ImageStore images(root);
    // Base images come from the local store; what it lacks (or, with --pull,
    // every tag) is pulled once per build. A failed pull is remembered and
    // reported on the FROM line that needed it.
    std::mutex resolve_mu;
    std::map<std::string, std::optional<content::StoredImage>> resolved;
    std::map<std::string, std::string> pull_errors;
    // The first use of a ref decides its platform: lowering asks first, with
    // the FROM line's --platform; later uses (the solver's) find it resolved.
    auto resolve_for = [&](const std::string& ref,
                           const std::string& platform) -> std::optional<content::StoredImage> {
        std::lock_guard lock(resolve_mu);
        if (auto it = resolved.find(ref); it != resolved.end())
            return it->second;
        std::optional<content::StoredImage> found;
        if (ref == "scratch")
            return found;
        std::optional<content::Descriptor> d;
        try {
            d = images.get(ref);
        } catch (const Error&) {
            // not a name the store can hold; parse_reference below says why
        }
        std::optional<registry::PlatformSpec> want;
        if (!platform.empty())
            want = registry::parse_platform(platform);
        const std::optional<content::Descriptor> local = d;
        if (d && want && !args.pull) {
            // The store holds one image per name: another platform's is pulled over it.
            auto held = content::read_image(root.blobs(), *d);
            if (!registry::platform_matches(
                    {held.config.architecture, held.config.os, held.config.variant}, *want))
                d.reset();
        }
        if (!d || args.pull) {
            solver::VertexScope v(*progress, "[internal] load metadata for " + ref);
            try {
                registry::PullOptions po;
                po.client = client_options(args.insecure_registries);
                po.platform = want;
                po.log = [&v](const std::string& line) { v.log(line); };
                auto r = registry::pull_image(root, registry::parse_reference(ref), po);
                d = r.descriptor;
                v.done();
            } catch (const Error& e) {
                v.error(e.what());
                if (!local) {
                    pull_errors[ref] = e.what();
                    resolved[ref] = std::nullopt;
                    return std::nullopt;
                }
                // A registry that cannot give a newer (or the other platform's)
                // image leaves the local one in use, as docker build does.
                d = local;
                progress->warn(std::string(e.what()) + "; using the local image " + ref);
            }
        }
        if (d)
            found = content::read_image(root.blobs(), *d);
        resolved[ref] = found;
        return found;
    };
    auto resolve_image = [&](const std::string& ref) { return resolve_for(ref, ""); };

    frontend::Linter linter(parsed, display_name);
    frontend::run_syntax_checks(parsed, linter);
    frontend::LowerOptions lo;
    lo.filename = display_name;
    lo.source = text;
    lo.build_args = parse_kv_list(args.build_args, "--build-arg", true);
    lo.target = args.target;
    lo.arch = frontend::host_architecture();
    lo.linter = &linter;
    lo.ignore_patterns = ignore;
    lo.all_stages = args.check;
    lo.image_settings = [&](const std::string& ref,
                            const std::string& platform) -> std::optional<frontend::ImageSettings> {
        auto img = resolve_for(ref, platform);
        if (!img)
            return std::nullopt;
        return solver::from_run_config(img->config.config, img->config.author);
    };
    lo.onbuild_triggers = [&](const std::string& ref, const std::string& platform) {
        auto img = resolve_for(ref, platform);
        return img ? img->config.config.on_build : std::vector<std::string>{};
    };  // --check looks at every stage, as BuildKit does
    auto plan = frontend::lower(parsed, lo);
    for (const auto& w : linter.warnings())
        progress->warn(linter.format(w));
    for (const auto& w : plan.warnings)
        progress->warn(w);
    if (!plan.unused_build_args.empty()) {
        std::string list;
        for (const auto& a : plan.unused_build_args)
            list += (list.empty() ? "" : " ") + a;
        progress->warn("one or more build-args [" + list + "] were not consumed");
    }
    if (args.check) {
        // --check: report and stop, as `docker build --check` does.
        const auto n = linter.warnings().size();
        std::cout << (n == 0 ? std::string("Check complete, no warnings found.")
                             : "Check complete, " + std::to_string(n) +
                                   (n == 1 ? " warning has" : " warnings have") + " been found!")
                  << "\n";
        return n == 0 ? 0 : 1;
    }
    if (linter.error_on_warning() && !linter.warnings().empty())
        throw Error(linter.violation_error());
    auto labels = parse_kv_list(args.labels, "--label", false);

    TempDir work(root.tmp(), "build-");
    solver::SolveOptions so;
    so.context_dir = args.context;
    so.ignore_patterns = ignore;
    so.work_dir = work.path();
    so.dockerfile_name = display_name;
    so.progress = progress.get();
    so.jobs = args.jobs;
    so.resolve_image = resolve_image;
    so.why_missing = [&](const std::string& ref) {
        std::lock_guard lock(resolve_mu);
        auto it = pull_errors.find(ref);
        return it == pull_errors.end() ? std::string() : "cannot pull: " + it->second;
    };
    so.blobs = &root.blobs();
    so.write_layer = [&](const fs::path& tree, bool overlay_whiteouts,
                         const solver::SolveOptions::OmitDir& omit) {
        return exporter::store_layer_tree(root, tree, overlay_whiteouts, omit, epoch);
    };
    auto snapshots = snapshotter::open_snapshotter(root.snapshots(), args.snapshotter, root.tmp());
    so.snapshots = snapshots.get();
    so.runtime = args.runtime;
    so.network = args.network == "default" ? "" : args.network;
    so.allow_network_host = entitled.network_host;
    so.allow_insecure = entitled.insecure;
    so.cancel = &g_stop_build;
    so.secrets = parse_secrets(args.secrets);
    so.cache_mounts = root.cache() / "mounts";
    if (!args.ssh.empty()) {
        // --ssh default[=SOCKET]: the agent socket RUN --mount=type=ssh forwards.
        auto eq = args.ssh.find('=');
        std::string id = args.ssh.substr(0, eq);
        if (id != "default")
            throw Error("--ssh " + args.ssh + ": only the \"default\" agent is supported");
        if (eq != std::string::npos) {
            so.ssh_socket = args.ssh.substr(eq + 1);
        } else if (const char* sock = std::getenv("SSH_AUTH_SOCK")) {
            so.ssh_socket = sock;
        } else {
            throw Error("--ssh default: SSH_AUTH_SOCK is not set");
        }
    }
    solver::CacheStore cache(root.cache() / "steps", root.blobs());
    // One stat cache per context directory.
    solver::StatCache stats(
        root.cache() / "stat" /
        std::string(
            content::Digest::of(fs::absolute(args.context).lexically_normal().string()).hex()));
    so.cache = &cache;
    so.stats = &stats;
    so.no_cache = args.no_cache;
    so.no_cache_stages = args.no_cache_filter;
    so.now = exporter::build_time(epoch);
    so.key_salt = epoch ? "source-date-epoch=" + std::to_string(*epoch) : "";
    auto solved = solver::solve(plan, so);
    for (const auto& [k, v] : labels)
        solved.config.config.labels[k] = v;

    if (g_interrupted)
        throw Cancelled();
    exporter::CommittedImage image;
    {
        solver::VertexScope v(*progress, "exporting to image");
        image = exporter::commit_image(root, solved);
        v.log("writing image " + image.manifest_descriptor.digest.str() + " done");
        v.done();
    }
    std::optional<content::Digest> pushed;  // the manifest digest the registry has
    for (const auto& spec : outputs) {
        const std::map<std::string, std::string> titles = {
            {"image", "naming image in the local store"},
            {"oci", "exporting to oci image format"},
            {"docker", "exporting to docker image format"},
            {"local", "copying files to " + spec.get("dest")},
            {"registry", "pushing to registry"}};
        solver::VertexScope v(*progress, spec.get("push") == "true" && spec.type == "image"
                                             ? "naming image and pushing to registry"
                                             : titles.at(spec.type));
        registry::PushOptions push;
        push.client = client_options(args.insecure_registries);
        push.log = [&v](const std::string& line) { v.log(line); };
        auto result = exporter::export_output(root, image, spec, args.tags, push);
        if (spec.type == "registry" || spec.get("push") == "true")
            pushed = result.manifest_digest;
        v.log(result.description + " done");
        v.done();
    }

    const std::string digest = image.manifest_descriptor.digest.str();
    if (!args.iidfile.empty())
        write_file_atomic(args.iidfile, digest);
    if (!args.metadata_file.empty()) {
        // As buildx: after a push, the digest is the one the registry has
        // (layers compressed); the local store's (uncompressed) is kiln's own key.
        nlohmann::json meta{{"containerimage.digest", pushed ? pushed->str() : digest},
                            {"kiln.image.digest", digest},
                            {"containerimage.config.digest", image.manifest.config.digest.str()}};
        std::string names;
        for (const auto& t : args.tags)
            names += (names.empty() ? "" : ",") + content::normalize_name(t);
        if (!names.empty())
            meta["image.name"] = names;
        // kiln's own: what the cache did (tests and CI logs read this).
        meta["kiln.steps.run"] = solved.stats.steps_run;
        meta["kiln.steps.cached"] = solved.stats.steps_cached;
        meta["kiln.context.files_read"] = stats.reads();
        write_file_atomic(args.metadata_file, meta.dump(2) + "\n");
    }
    std::cout << digest << "\n";
    return 0;
}

}  // namespace kiln::cli
