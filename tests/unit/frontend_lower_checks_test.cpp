// Lowering (frontend/lower.h): the build checks that need meaning, reported to the Linter.
// Messages follow BuildKit's linter/ruleset.go.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/lint.h"
#include "frontend/lower.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

using Strings = std::vector<std::string>;

// "Rule@line: message" for each warning lowering reported.
Strings checks(const std::string& text, LowerOptions options = {}) {
    ParseResult parsed = parse_dockerfile(text);
    Linter linter(parsed, "Dockerfile");
    options.source = text;
    options.linter = &linter;
    lower(parsed, options);
    Strings out;
    for (const auto& w : linter.warnings())
        out.push_back(w.rule + "@" + std::to_string(w.line) + ": " + w.message);
    return out;
}

TEST(LowerChecks, NoWarningsForCleanFile) {
    EXPECT_TRUE(checks("FROM scratch\nARG A=1\nENV B=$A\n").empty());
}

TEST(LowerChecks, LinterMayBeNull) {
    std::string text = "FROM scratch\nCOPY $foo .\n";
    EXPECT_NO_THROW(lower(parse_dockerfile(text), LowerOptions{}));
}

TEST(LowerChecks, UndefinedVar) {
    EXPECT_EQ(checks("FROM scratch AS base\nCOPY $foo .\n"),
              Strings{"UndefinedVar@2: Usage of undefined variable '$foo'"});
}

TEST(LowerChecks, UndefinedVarDeclaredArgIsFine) {
    EXPECT_TRUE(checks("FROM scratch AS base\nARG foo\nCOPY $foo .\n").empty());
}

TEST(LowerChecks, UndefinedVarInArgDefault) {
    EXPECT_EQ(checks("FROM scratch AS base\nARG VERSION=$foo\n"),
              Strings{"UndefinedVar@2: Usage of undefined variable '$foo'"});
}

TEST(LowerChecks, UndefinedVarSuggestion) {
    EXPECT_EQ(checks("FROM scratch\nENV PATH=$PAHT:/app/bin\n"),
              Strings{"UndefinedVar@2: Usage of undefined variable '$PAHT' (did you mean $PATH?)"});
}

TEST(LowerChecks, UndefinedVarNotCheckedInRunCommand) {
    EXPECT_TRUE(checks("FROM scratch\nRUN echo $nope\n").empty());
}

TEST(LowerChecks, UndefinedVarInRunMount) {
    EXPECT_EQ(checks("FROM scratch\nRUN --mount=target=/x$T x\n"),
              Strings{"UndefinedVar@2: Usage of undefined variable '$T'"});
}

TEST(LowerChecks, UndefinedVarSkippedOnImageWithUnknownEnv) {
    EXPECT_TRUE(checks("FROM python AS base\nARG VERSION=$PYTHON_VERSION\n").empty());
}

TEST(LowerChecks, UndefinedVarOnImageWithKnownEnv) {
    LowerOptions o;
    o.image_settings = [](const std::string&, const std::string&) {
        ImageSettings s;
        s.env = {{"PATH", "/bin"}, {"PYTHON_VERSION", "3.12"}};
        return std::optional<ImageSettings>(s);
    };
    EXPECT_TRUE(checks("FROM python\nARG VERSION=$PYTHON_VERSION\n", o).empty());
    EXPECT_EQ(checks("FROM alpine\nCOPY $foo .\n", o),
              Strings{"UndefinedVar@2: Usage of undefined variable '$foo'"});
}

TEST(LowerChecks, UndefinedArgInFrom) {
    EXPECT_EQ(checks("FROM node:22${VARIANT} AS jsbuilder\n"),
              Strings{"UndefinedArgInFrom@1: FROM argument 'VARIANT' is not declared"});
}

TEST(LowerChecks, UndefinedArgInFromDeclaredIsFine) {
    EXPECT_TRUE(
        checks("ARG VARIANT=\"-alpine3.20\"\nFROM node:22${VARIANT} AS jsbuilder\n").empty());
}

TEST(LowerChecks, UndefinedArgInFromSuggestion) {
    EXPECT_EQ(checks("ARG VERSION=1\nFROM img${VERSON}\n"),
              Strings{"UndefinedArgInFrom@2: FROM argument 'VERSON' is not declared (did you "
                      "mean VERSION?)"});
}

TEST(LowerChecks, SecretsUsedInArg) {
    EXPECT_EQ(checks("FROM scratch\nARG AWS_SECRET_ACCESS_KEY\n"),
              Strings{"SecretsUsedInArgOrEnv@2: Do not use ARG or ENV instructions for sensitive "
                      "data (ARG \"AWS_SECRET_ACCESS_KEY\")"});
}

TEST(LowerChecks, SecretsUsedInEnv) {
    EXPECT_EQ(checks("FROM scratch\nENV password=x\n"),
              Strings{"SecretsUsedInArgOrEnv@2: Do not use ARG or ENV instructions for sensitive "
                      "data (ENV \"password\")"});
}

TEST(LowerChecks, SecretsAllowPublicAndPartialWords) {
    EXPECT_TRUE(checks("FROM scratch\nARG PUBLIC_KEY\nENV MONKEY=1 TOKENS=2\n").empty());
}

TEST(LowerChecks, InvalidDefaultArgInFrom) {
    EXPECT_EQ(checks("ARG TAG\nFROM busybox:${TAG}\n"),
              Strings{"InvalidDefaultArgInFrom@2: Default value for ARG busybox:${TAG} results "
                      "in empty or invalid base image name"});
}

TEST(LowerChecks, InvalidDefaultArgInFromGoodCases) {
    EXPECT_TRUE(checks("ARG TAG=latest\nFROM busybox:${TAG}\n").empty());
    EXPECT_TRUE(checks("ARG VARIANT\nFROM busybox:stable${VARIANT}\n").empty());
    EXPECT_TRUE(checks("ARG TAG\nFROM alpine:${TAG:-3.14}\n").empty());
}

TEST(LowerChecks, InvalidDefaultArgInFromIgnoresBuildArgs) {
    LowerOptions o;
    o.build_args = {{"TAG", "1"}};
    EXPECT_EQ(checks("ARG TAG\nFROM busybox:${TAG}\n", o).size(), 1u);
}

TEST(LowerChecks, CopyIgnoredFile) {
    LowerOptions o;
    o.ignore_patterns = {"*/tmp/*"};
    EXPECT_EQ(checks("FROM scratch\nCOPY ./tmp/helloworld.txt /helloworld.txt\n", o),
              Strings{"CopyIgnoredFile@2: Attempting to Copy file \"./tmp/helloworld.txt\" that "
                      "is excluded by .dockerignore"});
    EXPECT_TRUE(checks("FROM scratch\nCOPY ./forever/helloworld.txt /helloworld.txt\n", o).empty());
}

TEST(LowerChecks, CopyIgnoredFileAdd) {
    LowerOptions o;
    o.ignore_patterns = {"secret"};
    EXPECT_EQ(checks("FROM scratch\nADD secret /s\n", o),
              Strings{"CopyIgnoredFile@2: Attempting to Add file \"secret\" that is excluded by "
                      ".dockerignore"});
}

TEST(LowerChecks, CopyIgnoredFileNotForFrom) {
    LowerOptions o;
    o.ignore_patterns = {"secret"};
    EXPECT_TRUE(checks("FROM scratch AS a\nFROM scratch\nCOPY --from=a secret /s\n", o).empty());
}

TEST(LowerChecks, RedundantTargetPlatform) {
    EXPECT_EQ(checks("FROM --platform=$TARGETPLATFORM scratch AS builder\n"),
              Strings{"RedundantTargetPlatform@1: Setting platform to predefined "
                      "$TARGETPLATFORM in FROM is redundant as this is the default behavior"});
}

TEST(LowerChecks, BuildPlatformIsNotRedundant) {
    LowerOptions o;
    o.build_arch = "arm64";
    EXPECT_TRUE(checks("FROM --platform=$BUILDPLATFORM scratch\n", o).empty());
}

TEST(LowerChecks, UnneededStagesAreNotChecked) {
    EXPECT_TRUE(checks("FROM scratch AS a\nCOPY $foo .\nFROM scratch\n").empty());
    LowerOptions o;
    o.all_stages = true;
    EXPECT_EQ(checks("FROM scratch AS a\nCOPY $foo .\nFROM scratch\n", o).size(), 1u);
}

TEST(LowerChecks, SkippedRuleIsNotReported) {
    EXPECT_TRUE(checks("# check=skip=UndefinedVar\nFROM scratch\nCOPY $foo .\n").empty());
}

}  // namespace
}  // namespace kiln::frontend
