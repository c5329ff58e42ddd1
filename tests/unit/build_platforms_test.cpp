// The platforms a build's stages run for (build/platforms.h): a stage starting
// from an image of another platform than its own is named in BuildKit's
// InvalidBaseImagePlatform warning, and its RUN steps need what runs that
// image's binaries. The images' platforms come from a fake resolver.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "base/error.h"
#include "build/platforms.h"
#include "sandbox/emulation.h"

namespace kiln::build {
namespace {

frontend::Stage stage(int index, std::string base, int line, bool with_run,
                      std::string platform = "", int base_stage = -1) {
    frontend::Stage s;
    s.index = index;
    s.base = std::move(base);
    s.base_stage = base_stage;
    s.platform = std::move(platform);
    s.line = line;
    if (with_run) {
        frontend::Step run;
        run.kind = frontend::Step::Kind::run;
        run.line = line + 1;
        s.steps.push_back(run);
    }
    return s;
}

frontend::BuildPlan plan_of(std::vector<frontend::Stage> stages) {
    frontend::BuildPlan p;
    for (std::size_t i = 0; i < stages.size(); ++i)
        p.needed.push_back(static_cast<int>(i));
    p.target = static_cast<int>(stages.size()) - 1;
    p.stages = std::move(stages);
    return p;
}

// Images by name, each of one platform, as a store holding one manifest per name.
ImagePlatform images(std::map<std::string, registry::PlatformSpec> known) {
    return [known](const std::string& ref,
                   const std::string&) -> std::optional<registry::PlatformSpec> {
        auto it = known.find(ref);
        if (it == known.end())
            return std::nullopt;
        return it->second;
    };
}

Platforms host() {
    return platforms_of({}).front();
}

TEST(BasePlatformWarnings, AnImageOfTheStagesPlatformGivesNone) {
    const auto p = host();
    auto plan = plan_of({stage(0, "app:1", 1, true)});
    EXPECT_TRUE(base_platform_warnings(plan, p, "Dockerfile",
                                       images({{"app:1", {"linux", p.target.architecture, ""}}}))
                    .empty());
}

TEST(BasePlatformWarnings, AnImageOfAnotherPlatformIsNamedWithItsFromLine) {
    const auto p = host();
    auto plan = plan_of({stage(0, "scratch", 1, false), stage(1, "arm:1", 3, true)});
    auto w = base_platform_warnings(plan, p, "Dockerfile",
                                    images({{"arm:1", {"linux", "arm64", "v8"}}}));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0],
              "Dockerfile:3: InvalidBaseImagePlatform: Base image arm:1 was pulled with "
              "platform \"linux/arm64\", expected \"" +
                  p.target.str() + "\" for current build");
}

// The image's default variant is no difference (arm64's v8 is BuildKit's "linux/arm64").
TEST(BasePlatformWarnings, ADefaultVariantIsTheSamePlatform) {
    auto p = platforms_of({"linux/arm64"}).front();
    auto plan = plan_of({stage(0, "arm:1", 1, true, "linux/arm64")});
    EXPECT_TRUE(
        base_platform_warnings(plan, p, "Dockerfile", images({{"arm:1", {"linux", "arm64", "v8"}}}))
            .empty());
}

// A stage FROM another stage is said once, at the stage that names the image.
TEST(BasePlatformWarnings, AStageFromAStageIsNotSaidTwice) {
    auto plan = plan_of({stage(0, "arm:1", 1, false), stage(1, "0", 2, true, "", 0)});
    EXPECT_EQ(base_platform_warnings(plan, host(), "Dockerfile",
                                     images({{"arm:1", {"linux", "arm64", ""}}}))
                  .size(),
              1u);
}

TEST(BasePlatformWarnings, AnUnknownImageOrAConfigWithoutArchitectureGivesNone) {
    auto plan = plan_of({stage(0, "missing:1", 1, true), stage(1, "bare:1", 3, true)});
    EXPECT_TRUE(
        base_platform_warnings(plan, host(), "Dockerfile", images({{"bare:1", {"", "", ""}}}))
            .empty());
}

// The RUN runs the image's binaries: what counts is whether this machine runs the
// image's platform, not the stage's. mips64le stands for one nothing here runs.
TEST(CheckRunnable, TheBaseImagesPlatformIsTheOneItsRunNeeds) {
    if (sandbox::why_cannot_run("mips64le").empty())
        GTEST_SKIP() << "this machine runs mips64le, the platform the test needs it not to";
    auto plan = plan_of({stage(0, "mips:1", 1, false), stage(1, "0", 4, true, "", 0)});
    try {
        check_runnable(plan, host(), "Dockerfile", images({{"mips:1", {"linux", "mips64le", ""}}}));
        FAIL() << "a RUN on a mips64le image was let through";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind(
                      "Dockerfile:5: RUN for linux/mips64le cannot run here: ", 0),
                  0u)
            << e.what();
    }
    // Without RUN it needs nothing; with an image of this machine's platform neither.
    EXPECT_NO_THROW(check_runnable(plan_of({stage(0, "mips:1", 1, false)}), host(), "Dockerfile",
                                   images({{"mips:1", {"linux", "mips64le", ""}}})));
    EXPECT_NO_THROW(
        check_runnable(plan, host(), "Dockerfile", images({{"mips:1", host().target}})));
}

}  // namespace
}  // namespace kiln::build
