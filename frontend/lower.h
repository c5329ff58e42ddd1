// Lowering: a parsed Dockerfile plus build options → a BuildPlan.
//
// Lowering applies the Dockerfile's meaning that needs no I/O, following
// BuildKit's dockerfile2llb: stages (FROM image / FROM <stage> / AS name /
// --platform), the stage graph (FROM <stage>, COPY/ADD --from, RUN
// --mount from=) and --target pruning (BuildPlan::needed), ARG scope (global
// ARGs before the first FROM, re-declared per stage; --build-arg overrides;
// predefined platform ARGs; proxy args), ENV, word expansion of the
// instructions that expand, RUN (shell/exec form, heredocs, --mount,
// --network, --security), COPY/ADD with every flag, ONBUILD triggers, the
// image settings of each stage, and history text as BuildKit words it.
//
// Only the stages in BuildPlan::needed are lowered step by step (as BuildKit
// dispatches only reachable stages); the others keep their FROM data with no
// steps, unless LowerOptions::all_stages is set.
//
// A stage built on an image starts from the image's settings when
// image_settings gives them, else from PATH only. A stage built FROM
// another stage starts from that stage's settings, environment and declared
// ARGs, as BuildKit does.
//
// Errors throw DockerfileError naming the file and line, in BuildKit's words
// where it has them. Build checks that need meaning (UndefinedVar,
// UndefinedArgInFrom, SecretsUsedInArgOrEnv, InvalidDefaultArgInFrom,
// CopyIgnoredFile, RedundantTargetPlatform) are reported to
// LowerOptions::linter.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/parser.h"

namespace kiln::frontend {

class Linter;

// A --build-context NAME=VALUE as lowering sees it (build/ fetches local
// ones and names the images of the others). Where a name is looked up,
// BuildKit's precedence holds: a named context of a stage's own name replaces
// the stage (Stage::replaced); FROM, COPY --from and RUN --mount from= naming
// a stage use the stage, else a named context of that name, else an image.
// A name is looked up as BuildKit does: an image reference's familiar form
// without ":latest" ("docker.io/library/alpine:latest" finds "alpine").
struct NamedContext {
    enum class Kind {
        image,  // value: an image reference, resolved like a FROM line's
        local,  // value: the context's name; the solver reads its files
        stage,  // value: a stage of this Dockerfile (buildx's target:STAGE)
    };
    Kind kind = Kind::image;
    std::string value;
};

struct LowerOptions {
    std::string filename = "Dockerfile";
    std::string source;  // the Dockerfile text, for error excerpts
    std::map<std::string, std::string> build_args;
    std::string target;  // "" = last stage
    // Target platform (TARGETPLATFORM, TARGETOS, ...).
    std::string os = "linux";
    std::string arch = "amd64";
    std::string variant;
    // Build platform (BUILDPLATFORM, ...); "" = the same as the target's.
    std::string build_os, build_arch, build_variant;
    // The platform of a stage whose FROM has no --platform ("os/arch[/variant]",
    // the target's when the build names one); "" leaves such stages at "" (the
    // host's, or a local base image's own). A stage FROM another stage takes
    // that stage's platform either way.
    std::string default_platform;
    // Receives the semantic build checks; may be null.
    Linter* linter = nullptr;
    // The .dockerignore patterns in effect (for CopyIgnoredFile).
    std::vector<std::string> ignore_patterns;
    // The ONBUILD triggers a base image carries (its config's OnBuild), asked
    // for each lowered stage built FROM an image. Unset = none.
    std::function<std::vector<std::string>(const std::string& image, const std::string& platform)>
        onbuild_triggers;
    // The config a base image carries (ENV, WORKDIR, USER, CMD, ...), nullopt
    // when unknown. A stage on a known image starts from it, as BuildKit
    // does (its ONBUILD triggers aside). When the callback is unset or gives
    // nullopt, the stage starts with PATH only and UndefinedVar is not checked
    // in it (the image may define anything).
    std::function<std::optional<ImageSettings>(const std::string& image,
                                               const std::string& platform)>
        image_settings;
    // --build-context, by lower-case name.
    std::map<std::string, NamedContext> named_contexts;
    // Lower (and check) every stage, not only those the target needs
    // (`kiln build --check`).
    bool all_stages = false;
};

BuildPlan lower(const ParseResult& parsed, const LowerOptions& options);

}  // namespace kiln::frontend
