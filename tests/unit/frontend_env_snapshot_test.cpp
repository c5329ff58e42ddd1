#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/env_snapshot.h"
#include "frontend/lower.h"
#include "frontend/parser.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {
namespace {

using Pairs = EnvSnapshot::Pairs;

TEST(EnvSnapshot, StaysAsTakenWhileTheEnvironmentChanges) {
    Environment env;
    env.set("A", "1");
    env.set("B", "2");
    const EnvSnapshot before = env.snapshot();
    env.set("A", "3");
    env.erase("B");
    env.set("C", "4");
    EXPECT_EQ(before.entries(), (Pairs{{"A", "1"}, {"B", "2"}}));
    EXPECT_EQ(env.snapshot().entries(), (Pairs{{"A", "3"}, {"C", "4"}}));
}

// Same order rules as Environment: a name keeps its first place when set again, and comes
// last when set again after an erase.
TEST(EnvSnapshot, FollowsEnvironmentThroughRandomSetsAndErases) {
    std::mt19937 rng(7);
    Environment env;
    std::vector<std::pair<EnvSnapshot, Pairs>> taken;
    for (int i = 0; i < 2000; ++i) {
        const std::string name(1, static_cast<char>('a' + rng() % 8));
        if (rng() % 4 == 0) {
            env.erase(name);
        } else {
            env.set(name, std::to_string(i));
        }
        ASSERT_EQ(env.snapshot().entries(), env.entries()) << "after step " << i;
        if (i % 100 == 0) {
            taken.emplace_back(env.snapshot(), env.entries());
        }
    }
    for (const auto& [snapshot, entries] : taken) {
        EXPECT_EQ(snapshot.entries(), entries);
    }
}

TEST(EnvSnapshot, FromPairsKeepsTheirOrderAndTheLastValue) {
    const EnvSnapshot s(Pairs{{"PATH", "/a"}, {"X", "1"}, {"PATH", "/b"}});
    EXPECT_EQ(s.entries(), (Pairs{{"PATH", "/b"}, {"X", "1"}}));
    EXPECT_TRUE(EnvSnapshot().entries().empty());
}

// Released node by node: a recursive release of a million nodes would overflow the stack.
TEST(EnvSnapshot, AMillionAssignmentsAreReleasedWithoutRecursion) {
    EnvSnapshot keep;
    {
        EnvSnapshot s;
        for (int i = 0; i < 1000000; ++i) {
            s = s.with_set("V" + std::to_string(i % 10), "x");
            if (i == 500000) {
                keep = s;
            }
        }
    }
    EXPECT_EQ(keep.entries().size(), 10u);
    EnvSnapshot other;
    for (int i = 0; i < 1000000; ++i) {
        other = other.with_set("W", "y");
    }
    keep = other;  // the list keep held goes, node by node
    other = EnvSnapshot();
    EXPECT_EQ(keep.entries(), (Pairs{{"W", "y"}}));
}

// Each RUN step keeps the environment it runs with; ENV and RUN lines taking turns share
// one list instead of each step copying the whole environment.
TEST(EnvSnapshot, EachRunStepSeesTheEnvironmentOfItsLine) {
    std::string text = "FROM scratch\n";
    for (int i = 0; i < 3; ++i) {
        text += "ENV A" + std::to_string(i) + "=" + std::to_string(i) + "\nRUN x\n";
    }
    const BuildPlan plan = lower(parse_dockerfile(text), LowerOptions{});
    std::vector<Pairs> seen;
    for (const Step& step : plan.stages[0].steps) {
        if (step.kind == Step::Kind::run) {
            seen.push_back(step.env.entries());
        } else {
            EXPECT_TRUE(step.env.entries().empty()) << step.text;
        }
    }
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].back(), (std::pair<std::string, std::string>{"A0", "0"}));
    EXPECT_EQ(seen[2].size(), seen[0].size() + 2);
    EXPECT_EQ(seen[2].back(), (std::pair<std::string, std::string>{"A2", "2"}));
}

}  // namespace
}  // namespace kiln::frontend
