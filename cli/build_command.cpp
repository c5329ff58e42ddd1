// `kiln build`: flags into a build::BuildRequest, the result printed.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/error.h"
#include "build/build.h"
#include "build/flags.h"
#include "cli/commands.h"
#include "cli/plain_progress.h"
#include "cli/rawjson_progress.h"
#include "cli/registry_options.h"
#include "cli/tty_progress.h"
#include "content/state_root.h"

namespace kiln::cli {

namespace {

std::unique_ptr<Progress> make_progress(const std::string& mode) {
    if (mode == "quiet")
        return std::make_unique<QuietProgress>();
    if (mode == "rawjson")
        return std::make_unique<RawJsonProgress>(std::cerr);
    // auto: the live display on a terminal (not a dumb one), plain otherwise.
    const char* term = std::getenv("TERM");
    const bool terminal = ::isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
    if (mode == "tty" && !terminal)
        throw UsageError("--progress tty: stderr is not a terminal (use plain)");
    if (terminal && (mode == "tty" || mode == "auto"))
        return std::make_unique<TtyProgress>(STDERR_FILENO);
    return std::make_unique<PlainProgress>(std::cerr);
}

}  // namespace

int build(const std::optional<std::string>& root_flag, const BuildArgs& args) {
    build::BuildRequest req;
    req.context = args.context;
    if (args.context == "-")
        req.context_stdin = &std::cin;
    req.dockerfile = args.file;
    req.build_contexts = args.build_contexts;
    req.tags = args.tags;
    req.build_args = build::parse_build_args(args.build_args);
    req.labels = build::parse_labels(args.labels);
    req.target = args.target;
    req.platforms = args.platforms;
    req.no_cache = args.no_cache;
    req.no_cache_stages = args.no_cache_filter;
    req.cache_from = args.cache_from;
    req.cache_to = args.cache_to;
    req.explain_cache = args.explain_cache;
    req.check = args.check || args.call == "check";
    req.call = args.call == "check" ? "build" : args.call;
    req.secrets = build::parse_secrets(args.secrets);
    req.ssh_socket = build::parse_ssh(args.ssh);
    req.snapshotter = args.snapshotter;
    req.runtime = args.runtime;
    req.network = args.network;
    req.add_hosts = args.add_hosts;
    req.shm_size = args.shm_size;
    req.ulimits = args.ulimits;
    req.allow = build::parse_allow(args.allow);
    req.outputs = args.outputs;
    req.annotations = args.annotations;
    req.push = args.push;
    req.pull = args.pull;
    if (!args.gc_keep_storage.empty())
        req.gc_keep_storage = args.gc_keep_storage;
    else if (const char* env = std::getenv("KILN_GC_KEEP_STORAGE"); env && *env)
        req.gc_keep_storage = env;
    if (req.gc_keep_storage == "off") {  // no automatic collection
        req.gc = false;
        req.gc_keep_storage.reset();
    }
    req.jobs = args.jobs;
    req.iidfile = args.iidfile;
    req.metadata_file = args.metadata_file;
    req.client = client_options(args.insecure_registries);
    req.cancel = &g_stop_build;
    req.state_root = content::resolve_state_root(root_flag);
    if (args.file == "-")
        req.dockerfile_text = std::string(std::istreambuf_iterator<char>(std::cin), {});
    auto progress = make_progress(args.progress);
    req.progress = progress.get();

    auto result = build::build(req);
    progress.reset();                   // its last frame before anything else is printed
    if (!result.call_output.empty()) {  // --call outline / targets
        std::cout << result.call_output;
        return 0;
    }
    if (result.check_warnings) {
        // --check: report and stop, as `docker build --check` does.
        const auto n = *result.check_warnings;
        std::cout << (n == 0 ? std::string("Check complete, no warnings found.")
                             : "Check complete, " + std::to_string(n) +
                                   (n == 1 ? " warning has" : " warnings have") + " been found!")
                  << "\n";
        return n == 0 ? 0 : 1;
    }
    if (!result.wrote_stdout)  // else stdout holds the output alone
        std::cout << result.digest << "\n";
    return 0;
}

}  // namespace kiln::cli
