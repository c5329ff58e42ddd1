#include <CLI/CLI.hpp>

#include <signal.h>

#include <atomic>
#include <iostream>

#include "base/error.h"
#include "base/limits.h"
#include "cli/commands.h"
#include "cli/usage.h"

namespace kiln::cli {

std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_stop_build{false};

namespace {
// Two flags: the build's (which a failing step also sets, to stop the
// others) and the user's (which decides the exit code).
extern "C" void on_signal(int) {
    g_interrupted.store(true);
    g_stop_build.store(true);
}

// SIGINT/SIGTERM stop a build cleanly: the solver sees the flag, kills what
// runs, and every mount and temp dir is released on the way out.
void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}
}  // namespace

int run(int argc, char** argv) {
    install_signal_handlers();
    CLI::App app{"kiln: a daemonless image builder (Dockerfile → OCI image)", "kiln"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("kiln ") + KILN_VERSION);
    std::optional<std::string> root;
    app.add_option("--root", root, "state root (default /var/lib/kiln as root, $KILN_ROOT)");
    std::string max_layer;
    app.add_option("--max-layer-size", max_layer,
                   "largest uncompressed layer to unpack or store, e.g. 64G (the default)");

    BuildArgs b;
    auto add_insecure = [](CLI::App* cmd, std::vector<std::string>& hosts) {
        cmd->add_option("--insecure-registry", hosts,
                        "allow this registry host over plain HTTP (repeatable)");
    };
    auto* build_cmd = app.add_subcommand("build", "build an image from a Dockerfile");
    build_cmd
        ->add_option("context", b.context,
                     "build context: a directory, a git URL (#ref[:dir]), a tarball URL, or - "
                     "(a tarball on stdin)")
        ->required();
    build_cmd->add_option("-f,--file", b.file,
                          "Dockerfile (default CONTEXT/Dockerfile, - for stdin)");
    build_cmd->add_option("-t,--tag", b.tags, "name the image (repeatable)");
    build_cmd->add_option("--build-arg", b.build_args,
                          "set a build-time variable K=V (repeatable)");
    build_cmd->add_option("--target", b.target, "stage to build");
    build_cmd
        ->add_option("--platform", b.platforms,
                     "build for this platform, os/arch[/variant] (default: this machine's; "
                     "`kiln platforms` lists what RUN can run for)")
        ->delimiter(',');
    build_cmd->add_flag("--no-cache", b.no_cache, "do not use the build cache");
    build_cmd->add_option("--no-cache-filter", b.no_cache_filter,
                          "do not use the cache for these stages (repeatable)");
    build_cmd->add_option("--cache-from", b.cache_from,
                          "import build cache: type=registry,ref=REF | type=local,src=DIR[,tag=T] "
                          "| REF (repeatable)");
    build_cmd->add_option("--cache-to", b.cache_to,
                          "export build cache: type=registry,ref=REF[,mode=min|max] | "
                          "type=local,dest=DIR | type=inline (repeatable)");
    build_cmd->add_flag("--explain-cache", b.explain_cache,
                        "say why each step that ran missed the cache");
    build_cmd->add_option("--secret", b.secrets,
                          "secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR");
    build_cmd->add_option("--ssh", b.ssh,
                          "forward the SSH agent to RUN --mount=type=ssh: default[=SOCKET]");
    build_cmd->add_option("--snapshotter", b.snapshotter, "snapshots: auto, overlayfs, native")
        ->check(CLI::IsMember({"auto", "overlayfs", "native"}));
    build_cmd->add_option("--runtime", b.runtime, "OCI runtime for RUN (runc, crun)");
    build_cmd
        ->add_option("--network", b.network,
                     "network of RUN steps: default (private, with outbound access), host "
                     "(needs --allow network.host), none")
        ->check(CLI::IsMember({"default", "host", "none"}));
    build_cmd
        ->add_option("--call", b.call,
                     "what to do: build (default), check (as --check), outline (the target's "
                     "build args, secrets and ssh), targets (the stages)")
        ->check(CLI::IsMember({"build", "check", "outline", "targets"}));
    build_cmd->add_option("--annotation", b.annotations,
                          "an OCI annotation [TYPE:]KEY=VALUE on the outputs; TYPE: manifest "
                          "(default; manifest[os/arch] for one platform), index, "
                          "manifest-descriptor, index-descriptor (repeatable)");
    build_cmd->add_option("--build-context", b.build_contexts,
                          "an extra context NAME=VALUE for FROM NAME, COPY --from=NAME, RUN "
                          "--mount from=NAME: a directory, docker-image://REF, "
                          "oci-layout://DIR[:TAG|@DIGEST], a git or tarball URL, or target:STAGE "
                          "(repeatable)");
    build_cmd->add_option("--add-host", b.add_hosts,
                          "add NAME:IP to every RUN's /etc/hosts (repeatable)");
    build_cmd->add_option("--shm-size", b.shm_size,
                          "size of every RUN's /dev/shm, e.g. 128m (default 64m)");
    build_cmd->add_option("--ulimit", b.ulimits,
                          "a RUN's resource limit TYPE=SOFT[:HARD], e.g. nofile=1024:2048 "
                          "(repeatable)");
    build_cmd->add_option("--allow", b.allow,
                          "entitlements: network.host, security.insecure (repeatable or "
                          "comma-separated)");
    build_cmd->add_flag("--check", b.check,
                        "only run the build checks; exit 1 when one reports a warning");
    build_cmd->add_option("-o,--output", b.outputs,
                          "output: type=image|oci|docker|local[,dest=PATH][,...] (repeatable)");
    build_cmd
        ->add_option("--progress", b.progress,
                     "progress output: auto (tty on a terminal, else plain), tty (live), plain, "
                     "quiet, rawjson (BuildKit's SolveStatus stream, a JSON object a line)")
        ->check(CLI::IsMember({"auto", "plain", "tty", "quiet", "rawjson"}));
    build_cmd->add_flag_callback(
        "-q,--quiet", [&b] { b.progress = "quiet"; },
        "print only the image digest (stdout); nothing but errors on stderr");
    build_cmd->add_option("--iidfile", b.iidfile, "write the image digest to a file");
    build_cmd->add_option("--metadata-file", b.metadata_file, "write build results as JSON");
    build_cmd->add_option("--label", b.labels, "set an image label K=V (repeatable)");
    build_cmd->add_option("--jobs", b.jobs,
                          "cap on steps run at once (default: every ready step; CPU-bound work "
                          "uses one thread per core)");
    build_cmd->add_flag("--push", b.push, "push the image to every -t name's registry");
    build_cmd->add_flag("--pull", b.pull, "check base images' registries for newer versions");
    add_insecure(build_cmd, b.insecure_registries);
    build_cmd->add_option("--gc-keep-storage", b.gc_keep_storage,
                          "after the build, collect the least recently used cache until the "
                          "store is this small (e.g. 10GB, or off; default $KILN_GC_KEEP_STORAGE, "
                          "else a tenth of its file system)");

    RegistryArgs reg;
    std::string pull_ref, pull_platform;
    auto* pull_cmd = app.add_subcommand("pull", "pull an image from a registry into the store");
    pull_cmd->add_option("reference", pull_ref, "image reference")->required();
    pull_cmd->add_option("--platform", pull_platform, "os/arch[/variant] (default: this host's)");
    add_insecure(pull_cmd, reg.insecure_registries);
    std::string push_name, push_dest;
    auto* push_cmd = app.add_subcommand("push", "push an image from the store to a registry");
    push_cmd->add_option("name", push_name, "image name in the local store")->required();
    push_cmd->add_option("destination", push_dest, "reference to push to (default: name)");
    add_insecure(push_cmd, reg.insecure_registries);
    std::string login_host, login_user, login_password;
    bool login_stdin = false;
    auto* login_cmd = app.add_subcommand("login", "store credentials for a registry");
    login_cmd->add_option("server", login_host, "registry host (default: Docker Hub)");
    login_cmd->add_option("-u,--username", login_user, "user name");
    login_cmd->add_option("-p,--password", login_password, "password or token");
    login_cmd->add_flag("--password-stdin", login_stdin, "read the password from stdin");
    add_insecure(login_cmd, reg.insecure_registries);
    std::string logout_host;
    auto* logout_cmd = app.add_subcommand("logout", "remove stored credentials for a registry");
    logout_cmd->add_option("server", logout_host, "registry host (default: Docker Hub)");

    auto* images_cmd = app.add_subcommand("images", "list the images in the local store");
    std::string name;
    auto* inspect_cmd =
        app.add_subcommand("inspect", "show an image's manifest and config as JSON");
    inspect_cmd->add_option("name", name, "image name")->required();
    std::vector<std::string> names;
    auto* rmi_cmd = app.add_subcommand("rmi", "remove image names from the local store");
    rmi_cmd->add_option("names", names, "image names")->required();
    std::string tag_source, tag_target;
    auto* tag_cmd =
        app.add_subcommand("tag", "give an image in the local store another name (docker tag)");
    tag_cmd->add_option("source", tag_source, "an image's name, or its digest")->required();
    tag_cmd->add_option("target", tag_target, "the new name")->required();
    std::string load_input;
    std::vector<std::string> load_tags;
    auto* load_cmd = app.add_subcommand(
        "load", "load images from an OCI layout tar or a docker-archive tar into the local store");
    load_cmd->add_option("-i,--input", load_input, "archive to read")->required();
    load_cmd->add_option("-t,--tag", load_tags,
                         "name the loaded image (replaces the archive's names)");
    PruneArgs prune_args;
    auto* prune_cmd = app.add_subcommand(
        "prune", "remove build cache: what named images do not use, least recently used first");
    prune_cmd->add_flag("-a,--all", prune_args.all,
                        "also the unpacked snapshots of named images (made again when used)");
    prune_cmd->add_option("--filter", prune_args.filters,
                          "until=DURATION: keep what was used within it (e.g. until=24h)");
    prune_cmd->add_option("--keep-storage", prune_args.keep_storage,
                          "remove only until the store is this small (e.g. 5GB)");
    prune_cmd->add_flag("--cache-mounts", prune_args.cache_mounts,
                        "also the contents of RUN --mount=type=cache");
    prune_cmd->add_flag("--dry-run", prune_args.dry_run, "say what would go, remove nothing");
    prune_cmd->add_flag("-f,--force", prune_args.force, "do not ask for confirmation");
    bool du_verbose = false;
    auto* du_cmd = app.add_subcommand("du", "show the store's disk usage by kind");
    du_cmd->add_flag("-v,--verbose", du_verbose, "list every cache record, snapshot and mount");
    auto* version_cmd = app.add_subcommand("version", "print kiln's version");
    auto* platforms_cmd = app.add_subcommand(
        "platforms", "list the platforms this machine runs RUN steps for, natively or emulated");
    auto* debug_cmd = app.add_subcommand("debug", "tools for kiln's developers");
    debug_cmd->require_subcommand(1);
    std::string file;
    auto* dump_cmd =
        debug_cmd->add_subcommand("dump-ast", "print a Dockerfile's parse as BuildKit's tests do");
    dump_cmd->add_option("file", file, "Dockerfile")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)  // --help, --version
            return app.exit(e);
        std::cerr << "error: " << usage_message(app, e, argc, argv) << "\n";
        return kUsageExit;
    }
    try {
        if (!max_layer.empty())
            set_max_layer_size(as_usage("--max-layer-size", [&] { return parse_size(max_layer); }));
        if (*build_cmd)
            return build(root, b);
        if (*images_cmd)
            return images(root);
        if (*inspect_cmd)
            return inspect(root, name);
        if (*rmi_cmd)
            return rmi(root, names);
        if (*tag_cmd)
            return tag(root, tag_source, tag_target);
        if (*prune_cmd)
            return prune(root, prune_args);
        if (*du_cmd)
            return du(root, du_verbose);
        if (*load_cmd)
            return load(root, load_input, load_tags);
        if (*pull_cmd)
            return pull(root, pull_ref, pull_platform, reg);
        if (*push_cmd)
            return push(root, push_name, push_dest, reg);
        if (*login_cmd)
            return login(login_host, login_user, login_password, login_stdin, reg);
        if (*logout_cmd)
            return logout(logout_host);
        if (*version_cmd)
            return version();
        if (*platforms_cmd)
            return platforms();
        if (*dump_cmd)
            return dump_ast(file);
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kUsageExit;
    } catch (const Error& e) {
        // A Dockerfile error's detail is its source excerpt.
        std::cerr << "error: " << e.what() << "\n" << e.detail();
        return g_interrupted || dynamic_cast<const Cancelled*>(&e) ? 130 : 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return g_interrupted ? 130 : 1;
    }
    return 0;
}

}  // namespace kiln::cli
