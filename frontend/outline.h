// What buildx's `--call outline` and `--call targets` print, without building:
// the stages a Dockerfile offers as targets, and for one target the build
// args, secrets and ssh sockets it uses, each with the description its
// comment gives ("# NAME what it is", as BuildKit's outline reads them).
//
// Only the stages the target needs are looked at (as BuildKit's outline): an
// ARG of another stage is not the target's. Global ARGs count where a needed
// stage's FROM names them or a needed stage declares them again. No I/O: base
// images are not resolved, so their ONBUILD triggers are not looked at.
#pragma once

#include <string>
#include <vector>

#include "frontend/lower.h"
#include "frontend/parser.h"

namespace kiln::frontend {

struct Outline {
    struct Arg {
        std::string name;
        std::string value;  // the --build-arg given, else the default as written
        bool has_value = false;
        std::string description;
    };
    struct Mount {  // a secret or an ssh socket RUN --mount asks for
        std::string id;
        bool required = false;
    };
    std::string target;  // the stage's name ("stage-N" when it has none)
    std::string description;
    std::vector<Arg> args;  // in order of first appearance, each name once
    std::vector<Mount> secrets, ssh;
};

struct TargetEntry {
    std::string name;
    std::string description;
    bool is_default = false;  // the last stage, built when no --target is given
};

// Throws DockerfileError as lower() does (e.g. an unknown --target).
Outline outline(const ParseResult& parsed, const LowerOptions& options);
// Every named stage, in order, and the last stage when it has no name.
std::vector<TargetEntry> targets(const ParseResult& parsed);

// As buildx prints them: aligned columns, sections left out when empty.
std::string format_outline(const Outline& outline);
std::string format_targets(const std::vector<TargetEntry>& targets);

}  // namespace kiln::frontend
