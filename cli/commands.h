// The kiln commands. Each returns the process exit code; errors are thrown as
// exceptions and turned into one message and exit code 1 by run() only.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace kiln::cli {

// Set by SIGINT/SIGTERM: g_interrupted says the user asked (exit code 130);
// g_stop_build is what a running build watches (its own failures set it too).
extern std::atomic<bool> g_interrupted;
extern std::atomic<bool> g_stop_build;

struct BuildArgs {
    std::string context = ".";
    std::string file;  // "" = CONTEXT/Dockerfile, "-" = stdin
    std::vector<std::string> tags;
    std::vector<std::string> build_args;
    std::string target;
    std::vector<std::string> platforms;  // --platform, comma-separated or repeated
    bool no_cache = false;
    bool check = false;  // run the build checks only
    std::vector<std::string> no_cache_filter;
    std::vector<std::string> cache_from;  // buildx specs (remote_cache/cache_spec.h)
    std::vector<std::string> cache_to;
    bool explain_cache = false;
    std::vector<std::string> secrets;  // id=ID,src=PATH | id=ID,env=VAR
    std::string ssh;                   // "default" or "default=SOCKET"
    std::string snapshotter = "auto";  // auto | overlayfs | native
    std::string runtime = "runc";
    std::string network = "default";          // default | host | none
    std::vector<std::string> add_hosts;       // --add-host NAME:IP
    std::vector<std::string> build_contexts;  // --build-context NAME=VALUE
    std::vector<std::string> annotations;     // --annotation [TYPE:]KEY=VALUE
    std::string call = "build";               // --call build|check|outline|targets
    std::string shm_size;
    std::vector<std::string> ulimits;  // --ulimit TYPE=SOFT[:HARD]
    std::vector<std::string> allow;    // --allow network.host,security.insecure
    std::vector<std::string> outputs;
    std::string progress = "auto";
    std::string iidfile;
    std::string metadata_file;
    std::vector<std::string> labels;
    unsigned jobs = 0;
    bool push = false;  // push every -t name after the build
    bool pull = false;  // re-check base images' tags in their registries
    std::vector<std::string> insecure_registries;
    std::string gc_keep_storage;  // --gc-keep-storage; "" = $KILN_GC_KEEP_STORAGE or the default
};

struct PruneArgs {
    bool all = false;
    bool cache_mounts = false;
    bool dry_run = false;
    bool force = false;
    std::vector<std::string> filters;  // until=DURATION
    std::string keep_storage;
};

// What every command that talks to registries takes.
struct RegistryArgs {
    std::vector<std::string> insecure_registries;  // hosts allowed over plain http
};

int build(const std::optional<std::string>& root, const BuildArgs& args);
int images(const std::optional<std::string>& root);
int inspect(const std::optional<std::string>& root, const std::string& name);
int rmi(const std::optional<std::string>& root, const std::vector<std::string>& names);
// SOURCE is a name in the store or an image digest (sha256:..., as `kiln images` and
// `kiln build` print it); TARGET is a reference (a tag, not a digest), stored normalised.
int tag(const std::optional<std::string>& root, const std::string& source,
        const std::string& target);
// `kiln prune` (gc/collect.h) and `kiln du [--verbose]`.
int prune(const std::optional<std::string>& root, const PruneArgs& args);
int du(const std::optional<std::string>& root, bool verbose);
int version();
// `kiln platforms`: what RUN steps can run for here, natively or emulated.
int platforms();
int load(const std::optional<std::string>& root, const std::string& input,
         const std::vector<std::string>& tags);
int dump_ast(const std::string& file);
int pull(const std::optional<std::string>& root, const std::string& ref,
         const std::string& platform, const RegistryArgs& args);
// Pushes `name` from the store to `dest` (default: `name` itself).
int push(const std::optional<std::string>& root, const std::string& name, const std::string& dest,
         const RegistryArgs& args);
int login(const std::string& host, std::string username, std::string password, bool password_stdin,
          const RegistryArgs& args);
int logout(const std::string& host);

// Parses argv, runs the command, and is the one place that catches errors.
int run(int argc, char** argv);

}  // namespace kiln::cli
