// Lowering (frontend/lower.h): stages, the stage graph, --target pruning, ARG scope and
// ONBUILD triggers. Expected values follow BuildKit's dockerfile2llb (convert.go).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/dockerfile_error.h"
#include "frontend/lower.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

using Strings = std::vector<std::string>;
using Ints = std::vector<int>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

BuildPlan lower_text(const std::string& text, LowerOptions options = {}) {
    options.source = text;
    return lower(parse_dockerfile(text), options);
}

DockerfileError lower_error(const std::string& text, LowerOptions options = {}) {
    try {
        lower_text(text, options);
    } catch (const DockerfileError& e) {
        return e;
    }
    ADD_FAILURE() << "no DockerfileError for:\n" << text;
    return DockerfileError("", 0, "");
}

std::optional<std::string> env_in(const Stage& st, const std::string& name) {
    for (const auto& [k, v] : st.settings.env) {
        if (k == name)
            return v;
    }
    return std::nullopt;
}

// --- stages and the graph --------------------------------------------------------------------

TEST(LowerStages, FromStageSetsBaseStage) {
    BuildPlan plan = lower_text("FROM scratch AS base\nFROM base\n");
    EXPECT_EQ(plan.stages[1].base_stage, 0);
    EXPECT_EQ(plan.stages[1].deps, Ints{0});
}

TEST(LowerStages, FromStageIsCaseInsensitive) {
    BuildPlan plan = lower_text("FROM scratch AS Base\nFROM BASE\n");
    EXPECT_EQ(plan.stages[1].base_stage, 0);
}

TEST(LowerStages, FromLaterStageNameIsAnImage) {
    // BuildKit resolves FROM <name> only against earlier stages.
    BuildPlan plan = lower_text("FROM later\nFROM scratch AS later\n");
    EXPECT_EQ(plan.stages[0].base_stage, -1);
}

TEST(LowerStages, InheritsSettingsOfBaseStage) {
    BuildPlan plan =
        lower_text("FROM scratch AS base\nENV A=1\nWORKDIR /w\nUSER u\nCMD [\"c\"]\nFROM base\n");
    const Stage& st = plan.stages[1];
    EXPECT_EQ(env_in(st, "A"), "1");
    EXPECT_EQ(st.settings.working_dir, "/w");
    EXPECT_EQ(st.settings.user, "u");
    EXPECT_EQ(st.settings.cmd, Strings{"c"});
}

TEST(LowerStages, InheritsDeclaredArgsOfBaseStage) {
    BuildPlan plan = lower_text("FROM scratch AS base\nARG V=1\nFROM base\nENV E=$V\n");
    EXPECT_EQ(env_in(plan.stages[1], "E"), "1");
}

TEST(LowerStages, CopyFromStageNameAddsDep) {
    BuildPlan plan = lower_text("FROM scratch AS a\nFROM scratch\nCOPY --from=A /x /y\n");
    EXPECT_EQ(plan.stages[1].deps, Ints{0});
    EXPECT_EQ(plan.stages[1].steps.back().copy.from_stage, 0);
    EXPECT_TRUE(plan.stages[1].steps.back().copy.from_image.empty());
}

TEST(LowerStages, CopyFromIndexAddsDep) {
    BuildPlan plan = lower_text("FROM scratch\nFROM scratch\nCOPY --from=0 /x /y\n");
    EXPECT_EQ(plan.stages[1].deps, Ints{0});
    EXPECT_EQ(plan.stages[1].steps.back().copy.from_stage, 0);
}

TEST(LowerStages, CopyFromImageAddsNoDep) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY --from=busybox:1.36 /bin/sh /sh\n");
    EXPECT_TRUE(plan.stages[0].deps.empty());
    EXPECT_EQ(plan.stages[0].steps.back().copy.from_image, "busybox:1.36");
}

TEST(LowerStages, RunMountFromStageAddsDep) {
    BuildPlan plan = lower_text(
        "FROM scratch AS tools\nFROM scratch\nRUN --mount=from=tools,target=/t /t/run\n");
    EXPECT_EQ(plan.stages[1].deps, Ints{0});
    EXPECT_EQ(plan.stages[1].steps.back().run.mounts.at(0).from_stage, 0);
}

TEST(LowerStages, CopyFromLaterStageIsAnError) {
    DockerfileError e =
        lower_error("FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\n", [] {
            LowerOptions o;
            o.target = "a";
            return o;
        }());
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.message(),
              "cannot copy from stage \"b\", it needs to be defined before current stage \"a\"");
}

TEST(LowerStages, CopyFromItselfIsCircular) {
    DockerfileError e = lower_error("FROM scratch AS a\nCOPY --from=a /x /y\n");
    EXPECT_EQ(e.message(), "circular dependency detected on stage: a");
}

TEST(LowerStages, CopyFromBadIndexIsAnError) {
    DockerfileError e = lower_error("FROM scratch\nCOPY --from=5 /x /y\n");
    EXPECT_EQ(e.message(), "invalid stage index 5");
}

TEST(LowerStages, MountFromLaterStageIsAnError) {
    DockerfileError e =
        lower_error("FROM scratch\nRUN --mount=from=b,target=/b true\nFROM scratch AS b\n", [] {
            LowerOptions o;
            o.all_stages = true;
            return o;
        }());
    EXPECT_NE(e.message().find("cannot mount from stage \"b\""), std::string::npos) << e.message();
}

TEST(LowerStages, LaterReferenceInUnneededStageIsIgnored) {
    LowerOptions o;
    o.target = "b";
    BuildPlan plan = lower_text("FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\n", o);
    EXPECT_EQ(plan.needed, Ints{1});
}

TEST(LowerStages, InvalidStageNameIsAnError) {
    DockerfileError e = lower_error("FROM scratch AS 1st\n");
    EXPECT_NE(e.message().find("invalid name for build stage"), std::string::npos);
}

TEST(LowerStages, PlatformFlagExpandsGlobalArgs) {
    BuildPlan plan = lower_text("ARG P=linux/arm64\nFROM --platform=$P scratch\n");
    EXPECT_EQ(plan.stages[0].platform, "linux/arm64");
}

TEST(LowerStages, PlatformFlagUsesBuildPlatform) {
    LowerOptions o;
    o.build_arch = "arm64";
    BuildPlan plan = lower_text("FROM --platform=$BUILDPLATFORM scratch\n", o);
    EXPECT_EQ(plan.stages[0].platform, "linux/arm64");
}

TEST(LowerStages, AStageWithoutPlatformTakesTheDefaultOne) {
    LowerOptions o;
    o.default_platform = "linux/arm64";
    BuildPlan plan = lower_text("FROM scratch\nFROM --platform=linux/s390x scratch\n", o);
    EXPECT_EQ(plan.stages[0].platform, "linux/arm64");
    EXPECT_EQ(plan.stages[1].platform, "linux/s390x");
}

TEST(LowerStages, WithoutADefaultPlatformAStageWithoutPlatformHasNone) {
    BuildPlan plan = lower_text("FROM scratch\n");
    EXPECT_EQ(plan.stages[0].platform, "");
}

TEST(LowerStages, AStageFromAnotherStageTakesThatStagesPlatform) {
    LowerOptions o;
    o.default_platform = "linux/arm64";
    o.build_arch = "amd64";
    BuildPlan plan = lower_text(
        "FROM --platform=$BUILDPLATFORM scratch AS build\nFROM build\nFROM scratch\n", o);
    EXPECT_EQ(plan.stages[1].platform, "linux/amd64");
    EXPECT_EQ(plan.stages[2].platform, "linux/arm64");
}

TEST(LowerStages, EmptyPlatformIsAnError) {
    DockerfileError e = lower_error("FROM --platform=$NOPE scratch\n");
    EXPECT_EQ(e.message(), "empty platform value from expression $NOPE");
}

TEST(LowerStages, BlankBaseIsAnError) {
    DockerfileError e = lower_error("FROM $NOPE\n");
    EXPECT_EQ(e.message(), "base name ($NOPE) should not be blank");
}

// --- --target and needed ---------------------------------------------------------------------

TEST(LowerTarget, NeededIsTargetAndTransitiveDeps) {
    BuildPlan plan = lower_text(
        "FROM scratch AS a\nFROM scratch AS b\nFROM a AS c\nCOPY --from=b / /\n"
        "FROM scratch AS unused\nFROM c AS final\n");
    EXPECT_EQ(plan.target, 4);
    EXPECT_EQ(plan.needed, (Ints{0, 1, 2, 4}));
}

TEST(LowerTarget, TargetPrunesLaterStages) {
    LowerOptions o;
    o.target = "b";
    BuildPlan plan = lower_text("FROM scratch AS a\nFROM scratch AS b\nFROM b AS c\n", o);
    EXPECT_EQ(plan.target, 1);
    EXPECT_EQ(plan.needed, Ints{1});
}

TEST(LowerTarget, UnneededStagesAreNotLowered) {
    BuildPlan plan = lower_text("FROM scratch AS a\nENV A=1\nFROM scratch\n");
    EXPECT_TRUE(plan.stages[0].steps.empty());
}

TEST(LowerTarget, AllStagesLowersEveryStage) {
    LowerOptions o;
    o.all_stages = true;
    BuildPlan plan = lower_text("FROM scratch AS a\nENV A=1\nFROM scratch\n", o);
    EXPECT_EQ(plan.stages[0].steps.size(), 1u);
    EXPECT_EQ(plan.needed, Ints{1});
}

TEST(LowerTarget, UnknownTargetMessage) {
    LowerOptions o;
    o.target = "nope";
    DockerfileError e = lower_error("FROM scratch AS a\n", o);
    EXPECT_EQ(e.message(), "target stage \"nope\" could not be found");
}

TEST(LowerTarget, TargetIsCaseInsensitive) {
    LowerOptions o;
    o.target = "A";
    BuildPlan plan = lower_text("FROM scratch AS a\nFROM scratch\n", o);
    EXPECT_EQ(plan.target, 0);
}

// --- ARG scope -------------------------------------------------------------------------------

TEST(LowerArgScope, GlobalArgSeesEarlierGlobalArg) {
    BuildPlan plan = lower_text("ARG A=x\nARG B=${A}y\nFROM scratch\nARG B\nENV E=$B\n");
    EXPECT_EQ(env_in(plan.stages[0], "E"), "xy");
}

TEST(LowerArgScope, PredefinedArgNotVisibleWithoutDeclaration) {
    BuildPlan plan = lower_text("FROM scratch\nENV E=x$TARGETOS\n");
    EXPECT_EQ(env_in(plan.stages[0], "E"), "x");
}

TEST(LowerArgScope, PredefinedArgUsableInFromWithoutDeclaration) {
    LowerOptions o;
    o.arch = "arm64";
    BuildPlan plan = lower_text("FROM img-$TARGETARCH\n", o);
    EXPECT_EQ(plan.stages[0].base, "img-arm64");
}

TEST(LowerArgScope, BuildPlatformArgs) {
    LowerOptions o;
    o.build_os = "linux";
    o.build_arch = "arm";
    o.build_variant = "v7";
    BuildPlan plan = lower_text(
        "FROM scratch\nARG BUILDPLATFORM BUILDVARIANT\n"
        "ENV P=$BUILDPLATFORM V=$BUILDVARIANT\n",
        o);
    EXPECT_EQ(env_in(plan.stages[0], "P"), "linux/arm/v7");
    EXPECT_EQ(env_in(plan.stages[0], "V"), "v7");
}

TEST(LowerArgScope, BuildArgOverridesPredefined) {
    LowerOptions o;
    o.build_args = {{"TARGETOS", "windows"}};
    BuildPlan plan = lower_text("FROM scratch\nARG TARGETOS\nENV E=$TARGETOS\n", o);
    EXPECT_EQ(env_in(plan.stages[0], "E"), "windows");
}

TEST(LowerArgScope, ArgAfterEnvOfSameNameWinsForExpansion) {
    // BuildKit adds ARG values to the state env, replacing an ENV of the same name;
    // the image config keeps the ENV value.
    BuildPlan plan = lower_text("FROM scratch\nENV X=env\nARG X=arg\nENV Y=$X\n");
    EXPECT_EQ(env_in(plan.stages[0], "Y"), "arg");
    EXPECT_EQ(env_in(plan.stages[0], "X"), "env");
}

TEST(LowerArgScope, StepEnvHoldsArgValues) {
    BuildPlan plan = lower_text("FROM scratch\nARG A=1\nENV B=2\nRUN true\n");
    const Step& s = plan.stages[0].steps.back();
    EXPECT_EQ(s.env.entries(),
              (Pairs{{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
                     {"A", "1"},
                     {"B", "2"}}));
}

TEST(LowerArgScope, GlobalArgUsedOnlyInFromIsNotUnused) {
    LowerOptions o;
    o.build_args = {{"BASE", "scratch"}};
    BuildPlan plan = lower_text("ARG BASE=alpine\nFROM $BASE\n", o);
    EXPECT_TRUE(plan.unused_build_args.empty());
}

// --- ONBUILD triggers ------------------------------------------------------------------------

TEST(LowerOnbuildTriggers, ImageTriggersRunFirst) {
    LowerOptions o;
    std::string asked;
    o.onbuild_triggers = [&](const std::string& image, const std::string&) {
        asked = image;
        return Strings{"ENV FROM_TRIGGER=1", "RUN echo trig"};
    };
    BuildPlan plan = lower_text("FROM base:1\nRUN echo own\n", o);
    EXPECT_EQ(asked, "base:1");
    const auto& steps = plan.stages[0].steps;
    ASSERT_EQ(steps.size(), 3u);
    EXPECT_EQ(steps[0].keyword, "ENV");
    EXPECT_EQ(steps[0].line, 1);
    EXPECT_EQ(steps[1].text, "ONBUILD RUN echo trig");
    EXPECT_EQ(steps[1].run.args, (Strings{"/bin/sh", "-c", "echo trig"}));
    EXPECT_EQ(steps[2].text, "RUN echo own");
    EXPECT_EQ(env_in(plan.stages[0], "FROM_TRIGGER"), "1");
}

TEST(LowerOnbuildTriggers, NotAskedForScratch) {
    LowerOptions o;
    bool asked = false;
    o.onbuild_triggers = [&](const std::string&, const std::string&) {
        asked = true;
        return Strings{};
    };
    lower_text("FROM scratch\n", o);
    EXPECT_FALSE(asked);
}

TEST(LowerOnbuildTriggers, TriggersAreNotInherited) {
    LowerOptions o;
    o.onbuild_triggers = [](const std::string&, const std::string&) { return Strings{"ENV A=1"}; };
    BuildPlan plan = lower_text("FROM base\n", o);
    EXPECT_TRUE(plan.stages[0].settings.on_build.empty());
}

TEST(LowerOnbuildTriggers, TriggerCopyFromAddsDep) {
    LowerOptions o;
    o.onbuild_triggers = [](const std::string&, const std::string&) {
        return Strings{"COPY --from=src /a /b"};
    };
    BuildPlan plan = lower_text("FROM scratch AS src\nFROM base\n", o);
    EXPECT_EQ(plan.stages[1].deps, Ints{0});
    EXPECT_EQ(plan.needed, (Ints{0, 1}));
}

TEST(LowerOnbuildTriggers, BadTriggerIsAnErrorAtFrom) {
    LowerOptions o;
    o.onbuild_triggers = [](const std::string&, const std::string&) {
        return Strings{"ENV A=1\nENV B=2"};
    };
    DockerfileError e = lower_error("FROM scratch\nFROM base\n", o);
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.message(), "onbuild trigger should be a single expression");
}

TEST(LowerOnbuildTriggers, StageTriggersRunInChildStage) {
    BuildPlan plan = lower_text("FROM scratch AS base\nONBUILD ENV T=1\nFROM base\nENV U=$T\n");
    EXPECT_EQ(env_in(plan.stages[1], "U"), "1");
    EXPECT_EQ(plan.stages[1].steps.front().text, "ONBUILD ENV T=1");
    EXPECT_EQ(plan.stages[1].steps.front().line, 3);
    EXPECT_TRUE(plan.stages[1].settings.on_build.empty());
}

TEST(LowerOnbuildTriggers, OnbuildWritesNoHistory) {
    BuildPlan plan = lower_text("FROM scratch\nONBUILD RUN x\n");
    EXPECT_TRUE(plan.stages[0].steps.empty());
    EXPECT_EQ(plan.stages[0].settings.on_build, Strings{"RUN x"});
}

// --- image env -------------------------------------------------------------------------------

TEST(LowerImageEnv, ImageEnvIsVisible) {
    LowerOptions o;
    o.image_settings = [](const std::string&, const std::string&) {
        ImageSettings s;
        s.env = {{"PATH", "/img"}, {"V", "3"}};
        return std::optional<ImageSettings>(s);
    };
    BuildPlan plan = lower_text("FROM python\nENV P=$PATH:$V\n", o);
    EXPECT_EQ(env_in(plan.stages[0], "P"), "/img:3");
}

TEST(LowerImageEnv, StageStartsFromTheImageConfig) {
    LowerOptions o;
    o.image_settings = [](const std::string&, const std::string&) {
        ImageSettings s;
        s.env = {{"PATH", "/img"}};
        s.working_dir = "/srv";
        s.user = "app";
        s.cmd = std::vector<std::string>{"serve"};
        s.on_build = {"RUN echo trigger"};
        return std::optional<ImageSettings>(s);
    };
    BuildPlan plan = lower_text("FROM base\nWORKDIR sub\n", o);
    const Stage& st = plan.stages[0];
    EXPECT_EQ(st.settings.working_dir, "/srv/sub");
    EXPECT_EQ(st.settings.user, "app");
    EXPECT_EQ(st.settings.cmd, std::vector<std::string>{"serve"});
    EXPECT_TRUE(st.settings.on_build.empty()) << "triggers are not inherited";
}

// --- named contexts (--build-context), with BuildKit's precedence ------------------------------

LowerOptions with_contexts(std::map<std::string, NamedContext> contexts) {
    LowerOptions o;
    o.named_contexts = std::move(contexts);
    return o;
}

TEST(LowerNamedContexts, AnImageContextMatchesTheFamiliarNameWithoutLatest) {
    auto o = with_contexts({{"alpine", {NamedContext::Kind::image, "pinned:1"}}});
    for (const char* from : {"alpine", "alpine:latest", "docker.io/library/alpine"}) {
        auto plan = lower_text(std::string("FROM ") + from + "\n", o);
        EXPECT_EQ(plan.stages[0].base, "pinned:1") << from;
    }
    // Another tag is another name.
    EXPECT_EQ(lower_text("FROM alpine:3\n", o).stages[0].base, "alpine:3");
}

TEST(LowerNamedContexts, AContextOfAStagesNameReplacesItAndDropsItsDependencies) {
    auto plan = lower_text(
        "FROM scratch AS a\nCOPY x /\n"
        "FROM scratch AS deps\nCOPY --from=a /x /x\nRUN false\n"
        "FROM deps\n",
        with_contexts({{"deps", {NamedContext::Kind::image, "pinned:1"}}}));
    const Stage& deps = plan.stages[1];
    EXPECT_TRUE(deps.replaced);
    EXPECT_EQ(deps.base, "pinned:1");
    EXPECT_TRUE(deps.steps.empty());
    EXPECT_TRUE(deps.deps.empty());
    EXPECT_EQ(plan.needed, (Ints{1, 2}));  // stage a is no longer needed
}

TEST(LowerNamedContexts, AStageOfTheNameComesBeforeTheContext) {
    auto plan = lower_text("FROM scratch AS x\nFROM scratch AS y\nCOPY --from=x / /\n",
                           with_contexts({{"z", {NamedContext::Kind::image, "i"}}}));
    EXPECT_EQ(plan.stages[1].steps[0].copy.from_stage, 0);
}

TEST(LowerNamedContexts, ALocalContextIsReadByCopyMountAndFrom) {
    auto plan = lower_text("FROM src\nCOPY --from=src a /a\nRUN --mount=from=src,target=/s true\n",
                           with_contexts({{"src", {NamedContext::Kind::local, "src"}}}));
    const Stage& st = plan.stages[0];
    EXPECT_EQ(st.base, "scratch");
    EXPECT_EQ(st.base_context, "src");
    ASSERT_EQ(st.steps.size(), 3u);
    EXPECT_EQ(st.steps[0].copy.from_context, "src");  // FROM: its files to "/"
    EXPECT_EQ(st.steps[0].copy.dest, "/");
    EXPECT_EQ(st.steps[1].copy.from_context, "src");
    EXPECT_EQ(st.steps[1].copy.from_stage, -1);
    EXPECT_EQ(st.steps[2].run.mounts.at(0).from_context, "src");
}

TEST(LowerNamedContexts, TargetNamesAStageForFromCopyAndItsDependencies) {
    auto plan = lower_text(
        "FROM scratch AS real\nFROM scratch AS unused\nFROM alias\nCOPY --from=alias / /\n",
        with_contexts({{"alias", {NamedContext::Kind::stage, "real"}}}));
    EXPECT_EQ(plan.stages[2].base_stage, 0);
    EXPECT_EQ(plan.stages[2].steps[0].copy.from_stage, 0);
    EXPECT_EQ(plan.needed, (Ints{0, 2}));
    auto e = lower_error("FROM alias\nFROM scratch AS real\n",
                         with_contexts({{"alias", {NamedContext::Kind::stage, "real"}}}));
    EXPECT_EQ(e.line(), 1);
    EXPECT_NE(e.message().find("must name a stage defined before"), std::string::npos);
}

}  // namespace
}  // namespace kiln::frontend
