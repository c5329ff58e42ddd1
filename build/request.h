// One build as a library call: what to build and where to put it
// (BuildRequest), what came out (BuildResult). cli/ fills a request from its
// flags and prints the result; nothing here reads argv or prints.
//
// Invariants: every field is already parsed (build/flags.h turns buildx's
// flag strings into these); `outputs` are buildx -o specs, checked before any
// step runs; a request with `check` set only runs the build checks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/progress.h"
#include "registry/client.h"

namespace kiln::sandbox {
class Executor;
}

namespace kiln::build {

// A --secret: a file read at use, or a value (from env=).
struct Secret {
    std::string file;
    std::string value;
};

// Entitlements, as buildx's --allow.
struct Entitlements {
    bool network_host = false;
    bool insecure = false;
};

struct BuildRequest {
    std::filesystem::path state_root;  // the store (content::resolve_state_root)
    // A directory, or as buildx takes them: a git URL (#ref[:subdir]), a
    // tarball URL, "-" for a tarball on `context_stdin` (build/remote_context.h).
    std::string context = ".";
    std::istream* context_stdin = nullptr;
    // --build-context NAME=VALUE, as given (build/named_contexts.h).
    std::vector<std::string> build_contexts;
    std::string dockerfile;       // "" = CONTEXT/Dockerfile; "-" = dockerfile_text
    std::string dockerfile_text;  // the Dockerfile when `dockerfile` is "-" (stdin)
    std::vector<std::string> tags;
    std::map<std::string, std::string> build_args;
    std::map<std::string, std::string> labels;
    std::string target;
    // --platform: what to build for ("os/arch[/variant]", parsed by
    // registry::parse_platform); empty = this machine's. Several make one image per
    // platform under one index.
    std::vector<std::string> platforms;
    bool no_cache = false;
    std::vector<std::string> no_cache_stages;
    bool check = false;  // run the build checks only
    // buildx's --call: "build" (default), "outline" or "targets" (describe the
    // Dockerfile in BuildResult::call_output, build nothing); "check" is `check`.
    std::string call = "build";
    std::map<std::string, Secret> secrets;
    std::string ssh_socket;            // the agent RUN --mount=type=ssh forwards; "" = none
    std::string snapshotter = "auto";  // auto | overlayfs | native
    std::string runtime = "runc";
    std::string network = "default";  // default | host | none
    // buildx's --add-host NAME:IP, --shm-size SIZE, --ulimit TYPE=SOFT[:HARD]
    // for every RUN, as given; checked before any step runs (build/run_settings.h).
    std::vector<std::string> add_hosts;
    std::string shm_size;
    std::vector<std::string> ulimits;
    Entitlements allow;
    std::vector<std::string> outputs;  // -o specs; none = type=image
    // --annotation [TYPE:]KEY=VALUE, as given (exporter/annotations.h).
    std::vector<std::string> annotations;
    bool push = false;  // --push: image outputs also push
    bool pull = false;  // re-check base images' tags in their registries
    // The automatic collection after the build (gc/collect.h): the store's size
    // limit as buildx writes sizes ("10GB"); unset = a tenth of its file system.
    std::optional<std::string> gc_keep_storage;
    bool gc = true;     // false: no automatic collection
    unsigned jobs = 0;  // steps at once; 0 = every ready step
    // --cache-from / --cache-to specs (remote_cache/cache_spec.h), checked before
    // any work; --explain-cache.
    std::vector<std::string> cache_from;
    std::vector<std::string> cache_to;
    bool explain_cache = false;
    std::string iidfile;
    std::string metadata_file;
    registry::ClientOptions client;  // pulls of base images and pushes
    Progress* progress = nullptr;    // NullProgress when null
    // Set from outside (a signal) to stop the build; also set by a failing step
    // to stop the others. A build that sees it throws kiln::Cancelled.
    std::atomic<bool>* cancel = nullptr;
    // Where RUN steps run; null = the OCI runtime `runtime` (sandbox::RuncExecutor).
    // Tests bring a fake (tests/unit/fake_executor.h).
    sandbox::Executor* executor = nullptr;
};

struct BuildResult {
    std::string digest;         // the image manifest in the local store (kiln's own key)
    std::string pushed_digest;  // the manifest a registry has, "" when nothing was pushed
    // The media type and size of what containerimage.digest names (the pushed
    // manifest after a push), for buildx's containerimage.descriptor.
    std::string media_type;
    std::int64_t size = 0;
    std::string config_digest;
    // --check: how many warnings the checks reported (the build stopped there).
    std::optional<std::size_t> check_warnings;
    std::size_t steps_run = 0;
    std::size_t steps_cached = 0;
    // --call outline / targets: what to print (nothing was built).
    std::string call_output;
    // An output went to standard output (-o -, dest=-): it holds nothing else.
    bool wrote_stdout = false;
};

}  // namespace kiln::build
