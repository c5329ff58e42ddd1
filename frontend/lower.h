// Lowering: a parsed Dockerfile plus build options → a BuildPlan.
//
// Lowering applies the Dockerfile's meaning that needs no I/O: stages and
// their names, ARG scope (global ARGs before the first FROM, re-declared per
// stage; --build-arg overrides; predefined platform ARGs), ENV, word
// expansion of the instructions that expand (ADD COPY ENV EXPOSE FROM LABEL
// STOPSIGNAL USER VOLUME WORKDIR), the image settings of each stage, and
// history text as BuildKit words it. Errors throw DockerfileError naming the
// file and line.
//
// This is the start of the full lowering: instructions the engine cannot run
// yet (RUN, ADD, FROM <image>, COPY --from) are refused here with a clear
// error rather than half-done.
#pragma once

#include <map>
#include <string>

#include "frontend/build_plan.h"
#include "frontend/parser.h"

namespace kiln::frontend {

struct LowerOptions {
    std::string filename = "Dockerfile";
    std::string source;  // the Dockerfile text, for error excerpts
    std::map<std::string, std::string> build_args;
    std::string target;  // "" = last stage
    std::string os = "linux";
    std::string arch = "amd64";
    std::string variant;
};

BuildPlan lower(const ParseResult& parsed, const LowerOptions& options);

// The host's architecture in OCI terms ("amd64", "arm64", ...).
std::string host_architecture();

}  // namespace kiln::frontend
