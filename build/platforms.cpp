#include "build/platforms.h"

#include <algorithm>

#include "base/error.h"
#include "sandbox/emulation.h"

namespace kiln::build {

std::vector<Platforms> platforms_of(const std::vector<std::string>& requested) {
    const auto build = registry::buildkit_form(registry::host_platform());
    if (requested.empty())
        return {Platforms{build, build, false}};
    std::vector<Platforms> out;
    for (const auto& text : requested) {
        registry::PlatformSpec target;
        try {
            target = registry::buildkit_form(registry::parse_platform(text));
        } catch (const Error& e) {
            throw UsageError(std::string("--platform: ") + e.what());
        }
        if (std::none_of(out.begin(), out.end(),
                         [&](const Platforms& p) { return p.target.str() == target.str(); }))
            out.push_back({build, target, target.str() != build.str()});
    }
    return out;
}

namespace {

// The platform a stage builds for: its own (FROM --platform, or the target's
// when lowering gave it one), else this machine's.
registry::PlatformSpec stage_platform(const frontend::Stage& st, const Platforms& platforms) {
    return st.platform.empty() ? platforms.build
                               : registry::buildkit_form(registry::parse_platform(st.platform));
}

// The stage whose FROM names the image `st` starts from (through FROM <stage>).
const frontend::Stage& root_stage(const frontend::BuildPlan& plan, const frontend::Stage& st) {
    const frontend::Stage* s = &st;
    while (s->base_stage >= 0)
        s = &plan.stages[static_cast<size_t>(s->base_stage)];
    return *s;
}

std::optional<registry::PlatformSpec> image_platform_of(const frontend::BuildPlan& plan,
                                                        const frontend::Stage& st,
                                                        const ImagePlatform& image_platform) {
    const auto& from = root_stage(plan, st);
    if (!image_platform || from.base == "scratch")
        return std::nullopt;
    auto p = image_platform(from.base, from.platform);
    if (!p || p->architecture.empty())
        return std::nullopt;
    if (p->os.empty())
        p->os = "linux";
    return registry::buildkit_form(*p);
}

}  // namespace

std::vector<std::string> base_platform_warnings(const frontend::BuildPlan& plan,
                                                const Platforms& platforms,
                                                const std::string& dockerfile_name,
                                                const ImagePlatform& image_platform) {
    std::vector<std::string> out;
    for (int i : plan.needed) {
        const auto& st = plan.stages[static_cast<size_t>(i)];
        if (st.base_stage >= 0)
            continue;  // its base stage says it
        const auto actual = image_platform_of(plan, st, image_platform);
        const auto expected = stage_platform(st, platforms);
        if (actual && actual->str() != expected.str())
            out.push_back(dockerfile_name + ":" + std::to_string(st.line) +
                          ": InvalidBaseImagePlatform: Base image " + st.base +
                          " was pulled with platform \"" + actual->str() + "\", expected \"" +
                          expected.str() + "\" for current build");
    }
    return out;
}

void check_runnable(const frontend::BuildPlan& plan, const Platforms& platforms,
                    const std::string& dockerfile_name, const ImagePlatform& image_platform) {
    for (int i : plan.needed) {
        const auto& st = plan.stages[static_cast<size_t>(i)];
        auto run = std::find_if(st.steps.begin(), st.steps.end(), [](const frontend::Step& s) {
            return s.kind == frontend::Step::Kind::run;
        });
        if (run == st.steps.end())
            continue;
        const auto platform =
            image_platform_of(plan, st, image_platform).value_or(stage_platform(st, platforms));
        if (auto why = sandbox::why_cannot_run(platform.architecture); !why.empty())
            throw Error(dockerfile_name + ":" + std::to_string(run->line) + ": RUN for " +
                        platform.str() + " cannot run here: " + why);
    }
}

}  // namespace kiln::build
