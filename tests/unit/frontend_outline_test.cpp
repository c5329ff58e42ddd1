// --call outline / targets (frontend/outline.h): what a target uses, from its
// own stages only, with the descriptions its comments give.
#include <gtest/gtest.h>

#include "frontend/dockerfile_error.h"
#include "frontend/outline.h"

namespace kiln::frontend {
namespace {

const char* kFile = R"(# syntax=docker/dockerfile:1
# GO_VERSION sets the Go version
ARG GO_VERSION=1.22
ARG NOT_USED=1

# base is where every stage starts
FROM golang:${GO_VERSION} AS base
# APP the app's name
ARG APP
RUN --mount=type=secret,id=aws,required=true --mount=type=ssh true

FROM base AS tools
ARG TOOLS_ONLY=1
RUN --mount=type=secret,id=tools-token true

FROM base AS release
ARG NOT_USED
RUN --mount=type=secret,id=aws true
)";

Outline outline_of(const std::string& target, std::map<std::string, std::string> args = {}) {
    LowerOptions o;
    o.source = kFile;
    o.target = target;
    o.build_args = std::move(args);
    return outline(parse_dockerfile(kFile), o);
}

TEST(Outline, TheTargetsArgsSecretsAndSshWithDescriptions) {
    Outline o = outline_of("");
    EXPECT_EQ(o.target, "release");
    ASSERT_EQ(o.args.size(), 3u);
    EXPECT_EQ(o.args[0].name, "GO_VERSION");  // named by a needed FROM
    EXPECT_EQ(o.args[0].value, "1.22");
    EXPECT_EQ(o.args[0].description, "sets the Go version");
    EXPECT_EQ(o.args[1].name, "NOT_USED");  // declared again in release
    EXPECT_EQ(o.args[2].name, "APP");
    EXPECT_FALSE(o.args[2].has_value);
    EXPECT_EQ(o.args[2].description, "the app's name");
    ASSERT_EQ(o.secrets.size(), 1u);
    EXPECT_EQ(o.secrets[0].id, "aws");
    EXPECT_TRUE(o.secrets[0].required);  // required where any use requires it
    ASSERT_EQ(o.ssh.size(), 1u);
    EXPECT_EQ(o.ssh[0].id, "default");
}

TEST(Outline, OnlyTheTargetsStagesAndBuildArgsGiven) {
    Outline o = outline_of("tools", {{"TOOLS_ONLY", "2"}});
    std::vector<std::string> names;
    for (const auto& a : o.args)
        names.push_back(a.name);
    EXPECT_EQ(names, (std::vector<std::string>{"GO_VERSION", "APP", "TOOLS_ONLY"}));
    EXPECT_EQ(o.args[2].value, "2");
    ASSERT_EQ(o.secrets.size(), 2u);
    EXPECT_EQ(o.secrets[1].id, "tools-token");
    EXPECT_THROW(outline_of("nosuch"), DockerfileError);
}

TEST(Outline, TargetsListNamedStagesAndTheDefault) {
    auto list = targets(parse_dockerfile(kFile));
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].name, "base");
    EXPECT_EQ(list[0].description, "is where every stage starts");
    EXPECT_TRUE(list[2].is_default);
    EXPECT_EQ(format_targets(list),
              "TARGET              DESCRIPTION\n"
              "base                is where every stage starts\n"
              "tools\n"
              "release (default)\n");
    auto unnamed = targets(parse_dockerfile("FROM a AS one\nFROM b\n"));
    ASSERT_EQ(unnamed.size(), 2u);
    EXPECT_EQ(unnamed[1].name, "stage-1");
    EXPECT_TRUE(unnamed[1].is_default);
}

TEST(Outline, FormatLeavesOutEmptySections) {
    Outline o;
    o.target = "app";
    EXPECT_EQ(format_outline(o), "TARGET:      app\n");
}

}  // namespace
}  // namespace kiln::frontend
