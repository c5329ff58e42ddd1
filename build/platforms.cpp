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
        const auto target = registry::buildkit_form(registry::parse_platform(text));
        if (std::none_of(out.begin(), out.end(),
                         [&](const Platforms& p) { return p.target.str() == target.str(); }))
            out.push_back({build, target, target.str() != build.str()});
    }
    return out;
}

void check_runnable(const frontend::BuildPlan& plan, const Platforms& platforms,
                    const std::string& dockerfile_name) {
    for (int i : plan.needed) {
        const auto& st = plan.stages[static_cast<size_t>(i)];
        auto run = std::find_if(st.steps.begin(), st.steps.end(), [](const frontend::Step& s) {
            return s.kind == frontend::Step::Kind::run;
        });
        if (run == st.steps.end())
            continue;
        const auto platform = st.platform.empty()
                                  ? platforms.build
                                  : registry::buildkit_form(registry::parse_platform(st.platform));
        if (auto why = sandbox::why_cannot_run(platform.architecture); !why.empty())
            throw Error(dockerfile_name + ":" + std::to_string(run->line) + ": RUN for " +
                        platform.str() + " cannot run here: " + why);
    }
}

}  // namespace kiln::build
