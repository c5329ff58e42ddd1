// The lowered form of a Dockerfile: stages of typed, fully expanded steps,
// plus the image settings each stage ends with. This is what frontend/ hands
// to solver/, which turns it into vertices; it carries no I/O and no kiln
// types from other modules (frontend depends only on the standard library).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

// COPY (and later ADD) with every word already expanded.
struct CopySpec {
    std::vector<std::string> sources;  // as written, relative to the context
    std::string dest;                  // absolute, WORKDIR applied
    bool dest_is_dir = false;          // trailing "/" or several sources
    std::string chown;                 // "" = 0:0
    std::string chmod;                 // "" = keep
    std::string from;                  // "" = build context
};

struct Step {
    enum class Kind {
        copy,      // adds a layer with the copied files
        workdir,   // creates the directory when it is missing
        metadata,  // changes only the image config
    };
    Kind kind = Kind::metadata;
    std::string keyword;     // upper-case, as BuildKit prints it ("COPY")
    std::string text;        // the instruction as written, for progress lines
    std::string created_by;  // the history entry, as BuildKit words it
    int line = 0;            // 1-based line in the Dockerfile
    CopySpec copy;
    std::string workdir;  // for Kind::workdir
};

struct Stage {
    std::string name;  // "" when unnamed
    int index = 0;
    std::string base;  // "scratch" or an image / stage name
    std::string platform;
    int line = 0;  // of its FROM
    std::vector<Step> steps;
    ImageSettings settings;  // after the last step
};

struct BuildPlan {
    std::vector<Stage> stages;
    int target = 0;                     // index of the stage to export
    std::vector<std::string> warnings;  // "Dockerfile:3: ..." lines for the user
    std::vector<std::string> unused_build_args;
};

}  // namespace kiln::frontend
