// Build checks that need only the AST (frontend/lint.h): each rule's messages and lines as
// BuildKit reports them, the `# check=` directive, and the documentation pages' examples
// (testdata/conformance/buildkit/rules/*.md) run as data.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/dockerfile_error.h"
#include "frontend/lint.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

struct Got {
    std::string rule;
    int line;
    std::string message;
    bool operator==(const Got&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Got& g) {
    return os << g.rule << "@" << g.line << ": " << g.message;
}

std::vector<Got> lint(std::string_view text) {
    ParseResult parsed = parse_dockerfile(text);
    Linter linter(parsed, "Dockerfile");
    run_syntax_checks(parsed, linter);
    std::vector<Got> out;
    for (const auto& w : linter.warnings()) {
        out.push_back({w.rule, w.line, w.message});
    }
    return out;
}

std::vector<Got> lint_sorted(std::string_view text) {
    auto v = lint(text);
    std::stable_sort(v.begin(), v.end(), [](const Got& a, const Got& b) {
        return a.line != b.line ? a.line < b.line : a.message < b.message;
    });
    return v;
}

using V = std::vector<Got>;

// ---- one rule at a time (cases and expectations from BuildKit's dockerfile_lint_test.go) ----

TEST(LintStageNames, StageNameCasingAndFromAsCasing) {
    EXPECT_EQ(lint_sorted("\n# warning: stage name should be lowercase\n"
                          "FROM scratch AS BadStageName\n\n"
                          "# warning: 'as' should match 'FROM' cmd casing.\n"
                          "FROM scratch as base2\n\nFROM scratch AS base3\n"),
              (V{{"StageNameCasing", 3, "Stage name 'BadStageName' should be lowercase"},
                 {"FromAsCasing", 6, "'as' and 'FROM' keywords' casing do not match"}}));
    EXPECT_EQ(lint("\nfrom scratch AS base\n\nfrom scratch as base2\n"),
              (V{{"FromAsCasing", 2, "'AS' and 'from' keywords' casing do not match"}}));
}

TEST(LintStageNames, FromAsCasingNotReportedWhenFromItselfIsMixedCase) {
    EXPECT_EQ(lint("From scratch as base\nFROM scratch AS base2\n"),
              (V{{"ConsistentInstructionCasing", 1,
                  "Command 'From' should match the case of the command majority (uppercase)"}}));
}

TEST(LintStageNames, DuplicateStageNameComparesLowerCasedNames) {
    EXPECT_EQ(
        lint("\nFROM scratch AS b\nFROM scratch AS b\n"),
        (V{{"DuplicateStageName", 3, "Duplicate stage name \"b\", stage names should be unique"}}));
    EXPECT_EQ(lint("FROM scratch AS b1\nFROM scratch AS b2\n"), V{});
    EXPECT_EQ(
        lint_sorted("FROM scratch AS base\nFROM scratch AS Base\n"),
        (V{{"DuplicateStageName", 2, "Duplicate stage name \"base\", stage names should be unique"},
           {"StageNameCasing", 2, "Stage name 'Base' should be lowercase"}}));
}

TEST(LintStageNames, ReservedStageName) {
    EXPECT_EQ(lint("\nFROM scratch AS scratch\nFROM scratch AS context\n"),
              (V{{"ReservedStageName", 2,
                  "Stage name should not use the same name as reserved stage \"scratch\""},
                 {"ReservedStageName", 3,
                  "Stage name should not use the same name as reserved stage \"context\""}}));
    EXPECT_EQ(lint("\nFROM scratch\nFROM scratch AS a\n"), V{});
}

TEST(LintNoEmptyContinuation, ReportedAtTheInstructionsLastLine) {
    EXPECT_EQ(lint("\nFROM scratch\n# warning: empty continuation line\nCOPY Dockerfile \\\n\n.\n"
                   "COPY Dockerfile \\\n.\n"),
              (V{{"NoEmptyContinuation", 6, "Empty continuation line"}}));
}

TEST(LintCasing, MajorityDecides) {
    EXPECT_EQ(lint("\nFROM scratch\n# c\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n"),
              (V{{"ConsistentInstructionCasing", 4,
                  "Command 'copy' should match the case of the command majority (uppercase)"}}));
    EXPECT_EQ(lint("\nfrOM scratch as base\nfrom scratch as base2\n"),
              (V{{"ConsistentInstructionCasing", 2,
                  "Command 'frOM' should match the case of the command majority (lowercase)"}}));
    EXPECT_EQ(lint("\nfrom scratch\nCOPY Dockerfile /foo\nCOPY Dockerfile /bar\nCOPY a /baz\n"),
              (V{{"ConsistentInstructionCasing", 2,
                  "Command 'from' should match the case of the command majority (uppercase)"}}));
    EXPECT_EQ(lint("\nFROM scratch\ncopy Dockerfile /foo\ncopy Dockerfile /bar\ncopy a /baz\n"),
              (V{{"ConsistentInstructionCasing", 2,
                  "Command 'FROM' should match the case of the command majority (lowercase)"}}));
    EXPECT_EQ(lint("from scratch\ncopy Dockerfile /foo\ncopy Dockerfile /bar\n"), V{});
    EXPECT_EQ(lint("FROM alpine\nRUN <<'EOT'\nenv\nEOT\n"), V{});
}

TEST(LintCasing, TieGoesToUppercaseAndGlobalArgsAreNotCounted) {
    EXPECT_EQ(lint("from scratch\nCOPY a b\n"),
              (V{{"ConsistentInstructionCasing", 1,
                  "Command 'from' should match the case of the command majority (uppercase)"}}));
    EXPECT_EQ(lint("arg x=1\nARG y=2\nFROM scratch\n"), V{});
}

TEST(LintJsonArgs, ShellFormCmdAndEntrypoint) {
    EXPECT_EQ(lint("\nFROM scratch\nCMD mycommand\n"),
              (V{{"JSONArgsRecommended", 3,
                  "JSON arguments recommended for CMD to prevent unintended behavior related to "
                  "OS signals"}}));
    EXPECT_EQ(lint("\nFROM scratch\nENTRYPOINT mycommand\n"),
              (V{{"JSONArgsRecommended", 3,
                  "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior "
                  "related to OS signals"}}));
    EXPECT_EQ(lint("FROM scratch\nCMD [\"mycommand\"]\nENTRYPOINT [\"x\"]\n"), V{});
}

TEST(LintJsonArgs, ShellInstructionExemptsAlsoInStagesBuiltFromIt) {
    EXPECT_EQ(lint("\nFROM scratch\nSHELL [\"/usr/bin/customshell\"]\nCMD mycommand\n"), V{});
    EXPECT_EQ(lint("\nFROM scratch\nSHELL [\"/usr/bin/customshell\"]\nENTRYPOINT mycommand\n"),
              V{});
    EXPECT_EQ(lint("\nFROM scratch AS base\nSHELL [\"/usr/bin/customshell\"]\n\nFROM base\n"
                   "CMD mycommand\n"),
              V{});
    // A SHELL after the CMD does not count, nor one in an unrelated stage.
    EXPECT_EQ(lint("FROM scratch AS a\nSHELL [\"/bin/bash\",\"-c\"]\nFROM scratch\nCMD x\n"),
              (V{{"JSONArgsRecommended", 4,
                  "JSON arguments recommended for CMD to prevent unintended behavior related to "
                  "OS signals"}}));
}

TEST(LintMaintainer, Deprecated) {
    EXPECT_EQ(lint("\nFROM scratch\nMAINTAINER me@example.org\n"),
              (V{{"MaintainerDeprecated", 3,
                  "Maintainer instruction is deprecated in favor of using label"}}));
    EXPECT_EQ(lint("\nFROM scratch\nLABEL org.opencontainers.image.authors=\"me@example.org\"\n"),
              V{});
}

TEST(LintWorkdir, RelativeOnlyBeforeAnAbsoluteOneInTheStageChain) {
    EXPECT_EQ(lint("\nFROM scratch\nWORKDIR app/\n"),
              (V{{"WorkdirRelativePath", 3,
                  "Relative workdir \"app/\" can have unexpected results if the base image "
                  "changes"}}));
    EXPECT_EQ(lint("\nFROM scratch AS a\nWORKDIR /app\n\nFROM a AS b\nWORKDIR subdir/\n"), V{});
    EXPECT_EQ(lint("FROM scratch\nWORKDIR /app\nWORKDIR sub\n"), V{});
    // Only the first WORKDIR of a stage can warn: fixing it fixes the rest.
    EXPECT_EQ(lint("FROM scratch\nWORKDIR a\nWORKDIR b\n"),
              (V{{"WorkdirRelativePath", 2,
                  "Relative workdir \"a\" can have unexpected results if the base image "
                  "changes"}}));
    // A stage not built FROM another starts afresh.
    EXPECT_EQ(lint("FROM scratch AS a\nWORKDIR /app\nFROM scratch\nWORKDIR sub\n").size(), 1u);
    // Quotes are removed as BuildKit's expansion does; variables are lowering's business.
    EXPECT_EQ(lint("FROM scratch\nWORKDIR \"/app\"\n"), V{});
    EXPECT_EQ(lint("FROM scratch\nWORKDIR $HOME/app\n"), V{});
}

TEST(LintMultipleInstructions, ReportedAtTheOverriddenOne) {
    const std::string suffix =
        " instructions should not be used in the same stage because only the last one will be "
        "used";
    EXPECT_EQ(lint_sorted("\nFROM scratch\nENTRYPOINT [\"/myapp\"]\nENTRYPOINT [\"/other\"]\n"
                          "CMD [\"/myapp\"]\nCMD [\"/other\"]\nHEALTHCHECK CMD [\"/myapp\"]\n"
                          "HEALTHCHECK CMD [\"/other\"]\n"),
              (V{{"MultipleInstructionsDisallowed", 3, "Multiple ENTRYPOINT" + suffix},
                 {"MultipleInstructionsDisallowed", 5, "Multiple CMD" + suffix},
                 {"MultipleInstructionsDisallowed", 7, "Multiple HEALTHCHECK" + suffix}}));
    EXPECT_EQ(lint_sorted("\nFROM scratch\nENTRYPOINT [\"/myapp\"]\nCMD [\"/myapp\"]\n"
                          "HEALTHCHECK CMD [\"/myapp\"]\nCOPY <<EOF /a.txt\nHello, World!\nEOF\n"
                          "ENTRYPOINT [\"/o\"]\nCMD [\"/o\"]\nHEALTHCHECK CMD [\"/o\"]\n"),
              (V{{"MultipleInstructionsDisallowed", 3, "Multiple ENTRYPOINT" + suffix},
                 {"MultipleInstructionsDisallowed", 4, "Multiple CMD" + suffix},
                 {"MultipleInstructionsDisallowed", 5, "Multiple HEALTHCHECK" + suffix}}));
    EXPECT_EQ(lint("\nFROM scratch AS a\nENTRYPOINT [\"/myapp\"]\nCMD [\"/myapp\"]\n"
                   "HEALTHCHECK CMD [\"/myapp\"]\n\nFROM a AS b\nENTRYPOINT [\"/o\"]\n"
                   "CMD [\"/o\"]\nHEALTHCHECK CMD [\"/o\"]\n"),
              V{});
    // Three in a row: the first two are each overridden.
    EXPECT_EQ(lint("FROM scratch\nCMD [\"a\"]\nCMD [\"b\"]\nCMD [\"c\"]\n"),
              (V{{"MultipleInstructionsDisallowed", 2, "Multiple CMD" + suffix},
                 {"MultipleInstructionsDisallowed", 3, "Multiple CMD" + suffix}}));
}

TEST(LintLegacyKeyValue, EnvAndLabel) {
    EXPECT_EQ(lint("\nFROM scratch\nENV testkey value\nLABEL key value\n"),
              (V{{"LegacyKeyValueFormat", 3,
                  "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format"},
                 {"LegacyKeyValueFormat", 4,
                  "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" "
                  "format"}}));
    EXPECT_EQ(lint("\nFROM scratch\nENV testkey=value\nLABEL key=value\n"), V{});
    // BuildKit does not check ARG: "ARG a b" declares two arguments.
    EXPECT_EQ(lint("FROM scratch\nARG foo bar\n"), V{});
}

TEST(LintConstPlatform, ConstantUnlessTheStageNameCarriesIt) {
    EXPECT_EQ(lint("\nFROM --platform=linux/amd64 scratch\n"),
              (V{{"FromPlatformFlagConstDisallowed", 2,
                  "FROM --platform flag should not use constant value \"linux/amd64\""}}));
    EXPECT_EQ(lint("\nFROM --platform=linux/amd64 scratch AS my_amd64_stage\n"), V{});
    EXPECT_EQ(lint("\nFROM --platform=linux/amd64 scratch AS linux\n"), V{});
    EXPECT_EQ(lint("FROM --platform=$BUILDPLATFORM scratch\n"), V{});
    EXPECT_EQ(lint("FROM --platform=${BUILDPLATFORM} scratch AS a\n"), V{});
    // Normalised as containerd's platforms.Parse does; unparsable values are left to lowering.
    EXPECT_EQ(lint("FROM --platform=Linux/x86_64 scratch AS build-amd64\n"), V{});
    EXPECT_EQ(lint("FROM --platform=linux/a/b/c scratch\n"), V{});
    EXPECT_EQ(lint("FROM --platform=arm64 scratch AS x\n").size(), 1u);
}

TEST(LintExpose, ProtoCasingAndInvalidFormat) {
    EXPECT_EQ(lint("FROM alpine\nEXPOSE 80/TcP\n"),
              (V{{"ExposeProtoCasing", 2,
                  "Defined protocol '80/TcP' in EXPOSE instruction should be lowercase"}}));
    EXPECT_EQ(lint("FROM alpine\nEXPOSE 127.0.0.1:80:80\n"),
              (V{{"ExposeInvalidFormat", 2,
                  "EXPOSE instruction should not define an IP address or host-port mapping, "
                  "found '127.0.0.1:80:80'"}}));
    EXPECT_EQ(lint("FROM alpine\nEXPOSE 80:80/UDP\n"),
              (V{{"ExposeProtoCasing", 2,
                  "Defined protocol '80:80/UDP' in EXPOSE instruction should be lowercase"},
                 {"ExposeInvalidFormat", 2,
                  "EXPOSE instruction should not define an IP address or host-port mapping, "
                  "found '80:80/UDP'"}}));
    EXPECT_EQ(lint("FROM alpine\nEXPOSE 80 443/tcp 53/udp 9/sctp\n"), V{});
    EXPECT_EQ(lint("FROM alpine\nEXPOSE $PORT/TCP\n"), V{});
}

TEST(LintDefinitionDescription, ExperimentalAndOffByDefault) {
    const char* text =
        "# a non-descriptive comment\nFROM scratch AS base\n"
        "# another non-descriptive comment\nARG VERSION=1\n";
    EXPECT_EQ(lint(text), V{});
    EXPECT_EQ(lint(std::string("# check=experimental=InvalidDefinitionDescription\n") + text),
              (V{{"InvalidDefinitionDescription", 3,
                  "Comment for FROM should follow the format: `# base <description>`"},
                 {"InvalidDefinitionDescription", 5,
                  "Comment for ARG should follow the format: `# VERSION <description>`"}}));
    EXPECT_EQ(lint("# check=experimental=all\n# base is a stage\nFROM scratch AS base\n"
                   "# VERSION This is the version number.\nARG VERSION=1\n"
                   "# something\nARG A=1 B=2\n"),
              (V{{"InvalidDefinitionDescription", 7,
                  "Comment for ARG should follow the format: `# <arg_key> <description>`"}}));
    // The directive lines above the first instruction are not its description.
    EXPECT_EQ(lint("# check=experimental=all\nFROM scratch AS base\n"), V{});
    // As BuildKit's parser: an empty "#" line clears the comments, a blank line does not.
    EXPECT_EQ(lint("# check=experimental=all\n# note\n#\nFROM scratch AS base\n"), V{});
    EXPECT_EQ(lint("# check=experimental=all\n# note\n\nFROM scratch AS base\n").size(), 1u);
}

TEST(LintLinter, DeduplicatesSameRuleLineAndMessage) {
    ParseResult parsed = parse_dockerfile("FROM scratch\n");
    Linter linter(parsed, "Dockerfile");
    linter.report("UndefinedVar", 3, "Usage of undefined variable '$foo'");
    linter.report("UndefinedVar", 3, "Usage of undefined variable '$foo'");
    linter.report("UndefinedVar", 4, "Usage of undefined variable '$foo'");
    linter.report("UndefinedVar", 3, "Usage of undefined variable '$bar'");
    ASSERT_EQ(linter.warnings().size(), 3u);
    EXPECT_EQ(linter.warnings()[0].url,
              "https://docs.docker.com/go/dockerfile/rule/undefined-var/");
    // "ENV a b c d" cannot happen, but two legacy pairs on one line would still be one warning.
    EXPECT_EQ(lint("FROM scratch\nLABEL a b\n").size(), 1u);
}

TEST(LintLinter, FormatPutsFileAndLineFirst) {
    ParseResult parsed = parse_dockerfile("FROM scratch\n");
    Linter linter(parsed, "build/Dockerfile.dev");
    linter.report("StageNameCasing", 3, "Stage name 'X' should be lowercase");
    linter.report("CopyIgnoredFile", 0, "m");
    EXPECT_EQ(linter.format(linter.warnings()[0]),
              "build/Dockerfile.dev:3: StageNameCasing: Stage name 'X' should be lowercase");
    EXPECT_EQ(linter.format(linter.warnings()[1]), "build/Dockerfile.dev: CopyIgnoredFile: m");
    EXPECT_EQ(linter.filename(), "build/Dockerfile.dev");
}

TEST(LintLinter, RuleUrls) {
    EXPECT_EQ(rule_url("JSONArgsRecommended"),
              "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/");
    EXPECT_EQ(rule_url("FromPlatformFlagConstDisallowed"),
              "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/");
    EXPECT_EQ(rule_url("StageNameCasing"),
              "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/");
}

// Every page's "aliases" entry is the URL rule_url() builds for its title.
TEST(LintLinter, RuleUrlsMatchThePagesAliases) {
    const std::filesystem::path dir =
        std::filesystem::path(KILN_TESTDATA_DIR) / "conformance/buildkit/rules";
    int checked = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().filename() == "_index.md") {
            continue;
        }
        std::ifstream in(entry.path());
        std::string line, title, alias;
        while (std::getline(in, line)) {
            if (line.rfind("title: ", 0) == 0) {
                title = line.substr(7);
            } else if (line.rfind("  - /go/dockerfile/rule/", 0) == 0) {
                alias = line.substr(4);
            }
        }
        EXPECT_EQ(rule_url(title), "https://docs.docker.com" + alias) << entry.path();
        ++checked;
    }
    EXPECT_GE(checked, 20);
}

// ---- # check= ----------------------------------------------------------------------------

Linter linter_for(const std::string& text) {
    return Linter(parse_dockerfile(text), "Dockerfile");
}

TEST(LintCheckDirective, SkipListAllAndError) {
    const std::string body = "FROM scratch as base\ncopy Dockerfile .\n";
    EXPECT_EQ(lint("#check=skip=all\n" + body), V{});
    EXPECT_EQ(lint("#check=skip=all;error=true\n" + body), V{});
    EXPECT_EQ(lint("#check=skip=ConsistentInstructionCasing,FromAsCasing\n" + body), V{});
    EXPECT_EQ(lint("#check=skip=ConsistentInstructionCasing\n" + body),
              (V{{"FromAsCasing", 2, "'as' and 'FROM' keywords' casing do not match"}}));
    EXPECT_EQ(lint("# check=skip= ConsistentInstructionCasing , FromAsCasing ;error=true\n" + body),
              V{});

    ParseResult parsed =
        parse_dockerfile("#check=skip=ConsistentInstructionCasing;error=true\n" + body);
    Linter linter(parsed, "Dockerfile");
    EXPECT_TRUE(linter.error_on_warning());
    EXPECT_TRUE(linter.skipped("ConsistentInstructionCasing"));
    EXPECT_FALSE(linter.skipped("FromAsCasing"));
    run_syntax_checks(parsed, linter);
    EXPECT_EQ(linter.violation_error(), "lint violation found for rules: FromAsCasing");

    EXPECT_FALSE(linter_for("#check=error=false\nFROM scratch\n").error_on_warning());
    EXPECT_TRUE(linter_for("# check = error = TRUE \nFROM scratch\n").error_on_warning());
    EXPECT_FALSE(linter_for("FROM scratch\n").error_on_warning());
    EXPECT_EQ(linter_for("#check=error=true\nFROM scratch\n").violation_error(), "");
}

TEST(LintCheckDirective, ExperimentalRulesIgnoreSkip) {
    Linter a = linter_for("# check=skip=all;experimental=InvalidDefinitionDescription\nFROM a\n");
    EXPECT_FALSE(a.skipped("InvalidDefinitionDescription"));
    EXPECT_TRUE(a.skipped("StageNameCasing"));
    Linter b = linter_for("FROM a\n");
    EXPECT_TRUE(b.skipped("InvalidDefinitionDescription"));
    EXPECT_FALSE(b.skipped("CopyIgnoredFile"));
    EXPECT_TRUE(Linter::is_experimental("InvalidDefinitionDescription"));
    EXPECT_FALSE(Linter::is_experimental("UndefinedVar"));
}

TEST(LintCheckDirective, MalformedValuesAreErrorsNamingTheFile) {
    const auto message = [](const std::string& text) -> std::string {
        try {
            Linter l(parse_dockerfile(text, "ctx/Dockerfile"), "ctx/Dockerfile");
        } catch (const DockerfileError& e) {
            EXPECT_EQ(e.file(), "ctx/Dockerfile");
            return e.message();
        }
        return "(no error)";
    };
    EXPECT_EQ(message("# check=skip\nFROM a\n"),
              "failed to parse check options: invalid check option \"skip\"");
    EXPECT_EQ(message("# check=foo=bar\nFROM a\n"),
              "failed to parse check options: invalid check option \"foo\"");
    EXPECT_EQ(message("# check=error=maybe\nFROM a\n"),
              "failed to parse check options: failed to parse check option \"error=maybe\": "
              "strconv.ParseBool: parsing \"maybe\": invalid syntax");
    EXPECT_EQ(message("# check=skip=all;;\nFROM a\n"),
              "failed to parse check options: invalid check option \"\"");
    EXPECT_EQ(message("# check=\nFROM a\n"), "(no error)");
}

// ---- the documentation pages as data -----------------------------------------------------

// Rules that need meaning (variables, ARG scope, .dockerignore): lower() reports them.
const std::set<std::string> kSemanticRules = {"CopyIgnoredFile",         "InvalidDefaultArgInFrom",
                                              "RedundantTargetPlatform", "SecretsUsedInArgOrEnv",
                                              "UndefinedArgInFrom",      "UndefinedVar"};

// Examples where the page and BuildKit disagree; BuildKit wins (see lint.cpp).
const std::map<std::pair<std::string, int>, std::string> kSkippedExamples = {
    {{"LegacyKeyValueFormat", 1},
     "\"ARG foo bar\" declares two ARGs in BuildKit, which does not lint ARG"},
    {{"InvalidDefinitionDescription", 2},
     "BuildKit's parser keeps comments across blank lines (only an empty \"#\" line or an "
     "instruction clears them), so the page's blank-line separation still fires upstream"},
};

// Pages whose "Output" sample is not what BuildKit prints for any of the page's bad examples
// (older wording, or a sample for another input).
const std::set<std::string> kOutputDiffers = {
    "ConsistentInstructionCasing", "DuplicateStageName",   "InvalidDefinitionDescription",
    "JSONArgsRecommended",         "MaintainerDeprecated", "MultipleInstructionsDisallowed",
    "NoEmptyContinuation",         "ReservedStageName",    "WorkdirRelativePath"};

struct Example {
    bool bad;
    int index;  // 1-based among the page's examples
    int line;   // in the page
    std::string text;
};

struct Page {
    std::string rule, output;
    std::vector<Example> examples;
};

Page read_page(const std::filesystem::path& path) {
    Page page;
    std::ifstream in(path);
    std::string line;
    int number = 0, marker = 0;  // marker: 0 none, 1 bad, 2 good
    bool in_output = false;
    while (std::getline(in, line)) {
        ++number;
        if (line.rfind("title: ", 0) == 0 && page.rule.empty()) {
            page.rule = line.substr(7);
        } else if (line == "## Output") {
            in_output = true;
        } else if (in_output && line.rfind("```text", 0) == 0) {
            std::getline(in, page.output);
            ++number;
            in_output = false;
        } else if (line.rfind("❌", 0) == 0) {
            marker = 1;
        } else if (line.rfind("✅", 0) == 0) {
            marker = 2;
        } else if (line == "```dockerfile") {
            Example ex{marker == 1, 0, number + 1, ""};
            while (std::getline(in, line) && line != "```") {
                ++number;
                // "..." stands for elided instructions; keep the line numbers.
                ex.text += (line == "..." ? "" : line) + "\n";
            }
            ++number;
            if (marker != 0) {
                ex.index = static_cast<int>(page.examples.size()) + 1;
                page.examples.push_back(std::move(ex));
            }
            marker = 0;
        }
    }
    return page;
}

TEST(LintRulePages, BadExamplesFireTheRuleGoodOnesFireNothing) {
    const std::filesystem::path dir =
        std::filesystem::path(KILN_TESTDATA_DIR) / "conformance/buildkit/rules";
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".md" && entry.path().filename() != "_index.md") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 20u);

    int run = 0, passed = 0, skipped = 0;
    std::set<std::string> output_differs;
    std::vector<std::string> skip_notes;
    for (const auto& file : files) {
        Page page = read_page(file);
        SCOPED_TRACE(file.filename().string());
        ASSERT_FALSE(page.rule.empty());
        ASSERT_FALSE(page.examples.empty());
        if (kSemanticRules.contains(page.rule)) {
            skipped += static_cast<int>(page.examples.size());
            skip_notes.push_back(page.rule + " (" + std::to_string(page.examples.size()) +
                                 " examples: needs lowering)");
            continue;
        }
        bool output_seen = false;
        for (const Example& ex : page.examples) {
            if (auto it = kSkippedExamples.find({page.rule, ex.index});
                it != kSkippedExamples.end()) {
                ++skipped;
                skip_notes.push_back(page.rule + " example " + std::to_string(ex.index) + ": " +
                                     it->second);
                continue;
            }
            ++run;
            std::string text = ex.text;
            if (Linter::is_experimental(page.rule)) {
                text = "# check=experimental=" + page.rule + "\n" + text;
            }
            std::vector<Got> got;
            try {
                got = lint(text);
            } catch (const std::exception& e) {
                ADD_FAILURE() << page.rule << " example at line " << ex.line << ": " << e.what();
                continue;
            }
            bool ok;
            if (ex.bad) {
                ok = std::any_of(got.begin(), got.end(),
                                 [&](const Got& g) { return g.rule == page.rule; });
                for (const Got& g : got) {
                    output_seen |= g.rule == page.rule && g.message == page.output;
                }
                EXPECT_TRUE(ok) << page.rule << ": bad example at line " << ex.line
                                << " fired nothing of its rule:\n"
                                << ex.text;
            } else {
                ok = got.empty();
                EXPECT_TRUE(ok) << page.rule << ": good example at line " << ex.line << " fired "
                                << testing::PrintToString(got) << ":\n"
                                << ex.text;
            }
            passed += ok ? 1 : 0;
        }
        if (!output_seen) {
            output_differs.insert(page.rule);
        }
    }
    std::cout << "lint rule pages: " << run << " examples run, " << passed << " passed, " << skipped
              << " skipped\n";
    for (const auto& note : skip_notes) {
        std::cout << "  skipped: " << note << "\n";
    }
    for (const auto& rule : output_differs) {
        std::cout << "  page Output differs from BuildKit's message: " << rule << "\n";
    }
    EXPECT_EQ(run, passed);
    EXPECT_EQ(output_differs, kOutputDiffers);
}

}  // namespace
}  // namespace kiln::frontend
