// The lowered form of a Dockerfile: stages of typed, fully expanded steps,
// plus the image settings each stage ends with. This is what frontend/ hands
// to solver/, which turns it into vertices; it carries no I/O and no kiln
// types from other modules (frontend depends only on base/ and the standard library).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "frontend/env_snapshot.h"

namespace kiln::frontend {

// What a container of the image starts with (mirrors an OCI image config's
// "config" object, in frontend's own terms).
struct ImageSettings {
    std::string user;
    std::set<std::string> exposed_ports;                   // "80/tcp"
    std::vector<std::pair<std::string, std::string>> env;  // in order, unique names
    std::optional<std::vector<std::string>> entrypoint;
    std::optional<std::vector<std::string>> cmd;
    std::set<std::string> volumes;
    std::string working_dir;
    std::map<std::string, std::string> labels;
    std::string stop_signal;
    std::optional<std::vector<std::string>> shell;
    std::vector<std::string> on_build;
    bool args_escaped = false;
    std::string maintainer;  // becomes the config's "author"

    struct Healthcheck {
        std::vector<std::string> test;  // ["NONE"], ["CMD", ...] or ["CMD-SHELL", "..."]
        long long interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
        int retries = 0;
    };
    std::optional<Healthcheck> healthcheck;

    void set_env(const std::string& name, const std::string& value);
};

// A file a heredoc makes (COPY <<EOF /dest, RUN <<EOF).
struct HeredocFile {
    std::string name;     // the delimiter ("EOF"), used as the file name for COPY
    std::string content;  // expanded unless the delimiter was quoted; tabs chomped for <<-
};

// COPY and ADD with every word already expanded.
struct CopySpec {
    std::vector<std::string> sources;   // as written, relative to the context (or stage root)
    std::vector<HeredocFile> heredocs;  // heredoc sources, in order
    std::string dest;                   // absolute, WORKDIR applied
    bool dest_is_dir = false;           // trailing "/" or several sources
    std::string chown;                  // "" = 0:0
    std::string chmod;                  // "" = keep
    std::string from;                   // "" = build context; else as written after expansion
    int from_stage = -1;                // index of the stage --from names, or -1
    std::string from_image;             // --from names an image (not a stage), else ""
    // --from names a local named context (LowerOptions::named_contexts): its
    // name, which the solver reads like the build context; else "".
    std::string from_context;
    bool link = false;
    bool parents = false;
    std::vector<std::string> excludes;
    // ADD only:
    bool is_add = false;
    std::string checksum;  // --checksum=sha256:...
    bool keep_git_dir = false;
    bool unpack = true;  // --unpack (BuildKit's ADD --unpack=false), default true
    // Keep the sources' owners when there is no --chown (ADD of an archive:
    // entries keep the archive's owners). Set by the solver, not the Dockerfile.
    bool keep_owners = false;
    // Whether --unpack was given. Without it BuildKit unpacks local archives and
    // leaves archives downloaded from a URL packed.
    bool unpack_set = false;
};

// RUN --mount=... after expansion.
struct MountSpec {
    std::string type = "bind";  // bind | cache | tmpfs | secret | ssh
    std::string target;
    std::string source;
    std::string from;          // stage name/index or image, "" = context (bind) or none
    int from_stage = -1;       // resolved stage index, or -1
    std::string from_image;    // from= names an image (not a stage), else ""
    std::string from_context;  // from= names a local named context, else ""
    bool readonly = true;      // bind default ro; cache default rw
    std::string id;
    std::string sharing;  // shared | private | locked
    std::string mode;     // octal string, "" = default
    std::string uid, gid;
    std::string size;       // tmpfs
    bool required = false;  // secret/ssh
    std::string env;        // secret: expose as env var
};

struct RunSpec {
    std::vector<std::string> args;  // exec form as given, or shell + [command]
    bool shell_form = true;
    std::vector<HeredocFile> heredocs;  // RUN <<EOF scripts (tabs chomped for <<-)
    // `RUN <<EOF` whose script starts with "#!": as BuildKit, heredocs[0] is
    // written as an executable file (0755) at /dev/pipes/<name> on a read-only
    // mount and args is ["/dev/pipes/<name>"]; shell_form is then false.
    bool heredoc_script = false;
    std::vector<MountSpec> mounts;
    std::string network;   // "" (default) | none | host
    std::string security;  // "" | insecure | sandbox
    // The build args a step can see (name, value): first the ARGs declared in
    // the stage (and in the stages it is built FROM), with the value in effect
    // (also present in Step::env), then the proxy args (HTTP_PROXY, no_proxy,
    // ...) given with --build-arg and not declared, which the solver adds to
    // the process environment. Only the declared ones appear in history
    // ("RUN |2 A=1 B=2 /bin/sh -c ..."); proxy args are kept out of it.
    std::vector<std::pair<std::string, std::string>> build_args;
};

struct Step {
    enum class Kind {
        copy,      // COPY or ADD: adds a layer with the copied files
        run,       // RUN: runs a command in the stage's root file system
        workdir,   // creates the directory when it is missing
        metadata,  // changes only the image config
    };
    Kind kind = Kind::metadata;
    std::string keyword;     // upper-case, as BuildKit prints it ("COPY")
    std::string text;        // the instruction as written, for progress lines
    std::string created_by;  // the history entry, as BuildKit words it
    int line = 0;            // 1-based line in the Dockerfile
    CopySpec copy;           // for Kind::copy
    RunSpec run;             // for Kind::run
    std::string workdir;     // for Kind::workdir
    // For Kind::run (empty for the others, which run nothing): the environment the step
    // runs with, as BuildKit's state env: the stage's
    // ENV values and the values of the ARGs declared in the stage (a later
    // definition of a name replaces the earlier one in place). Proxy args are
    // not here (see RunSpec::build_args). For a stage built on an image, the
    // image's own ENV is not included unless LowerOptions::image_settings gave it:
    // the solver puts the base image's ENV first and this on top.
    EnvSnapshot env;
    std::string user;               // USER in effect, for RUN and COPY --chown defaults
    std::string workdir_in_effect;  // "/" when no WORKDIR was set
};

struct Stage {
    std::string name;  // "" when unnamed
    int index = 0;
    std::string base;     // "scratch" or an image / stage name, expanded
    int base_stage = -1;  // index of the stage FROM names, or -1 (scratch or an image)
    // FROM names a local named context: the stage is its files on scratch (its
    // first step copies them to "/"); else "".
    std::string base_context;
    // A named context of the stage's own name stands for the stage: `base`
    // (or base_stage, base_context) is that context, and none of the stage's
    // instructions is built, as in BuildKit.
    bool replaced = false;
    std::string platform;  // --platform, expanded ("" = default)
    int line = 0;          // of its FROM
    // Stages this one needs (FROM <stage>, COPY --from, RUN --mount from=),
    // sorted, all with a smaller index.
    std::vector<int> deps;
    std::vector<Step> steps;
    ImageSettings settings;  // after the last step
};

struct BuildPlan {
    std::vector<Stage> stages;
    int target = 0;  // index of the stage to export
    // The stages --target needs (the target and everything it depends on),
    // in increasing index order; the solver runs only these.
    std::vector<int> needed;
    std::vector<std::string> warnings;  // "Dockerfile:3: ..." lines for the user
    std::vector<std::string> unused_build_args;
};

}  // namespace kiln::frontend
