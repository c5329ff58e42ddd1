// Lowering (frontend/lower.h): a parsed Dockerfile plus options → BuildPlan. Expected values
// follow BuildKit's dockerfile2llb (dispatch* in convert.go) and instructions/parse.go.
// Tests marked "BUG (BuildKit differs)" state BuildKit's behaviour where kiln currently
// differs; see the comment on each.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/dockerfile_error.h"
#include "frontend/lower.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

using Strings = std::vector<std::string>;

const char* const kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

BuildPlan lower_text(const std::string& text, LowerOptions options = {}) {
    options.source = text;
    return lower(parse_dockerfile(text), options);
}

BuildPlan lower_with_args(const std::string& text, std::map<std::string, std::string> args) {
    LowerOptions options;
    options.build_args = std::move(args);
    return lower_text(text, options);
}

// The value of an ENV variable of the target stage, nullopt when unset.
std::optional<std::string> env_of(const BuildPlan& plan, const std::string& name) {
    for (const auto& [k, v] : plan.stages.at(plan.target).settings.env) {
        if (k == name)
            return v;
    }
    return std::nullopt;
}

const ImageSettings& settings(const BuildPlan& plan) {
    return plan.stages.at(plan.target).settings;
}

const Step& last_step(const BuildPlan& plan) {
    return plan.stages.at(plan.target).steps.back();
}

// Lowers text and returns the DockerfileError it throws (fails the test if none).
DockerfileError lower_error(const std::string& text, LowerOptions options = {}) {
    try {
        lower_text(text, options);
    } catch (const DockerfileError& e) {
        return e;
    }
    ADD_FAILURE() << "no DockerfileError for:\n" << text;
    return DockerfileError("", 0, "");
}

// --- FROM scratch, stages, --target -------------------------------------------------------

TEST(LowerFrom, ScratchGetsDefaultPath) {
    BuildPlan plan = lower_text("FROM scratch\n");
    ASSERT_EQ(plan.stages.size(), 1u);
    EXPECT_EQ(plan.stages[0].base, "scratch");
    using Env = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(plan.stages[0].settings.env, (Env{{"PATH", kDefaultPath}}));
}

TEST(LowerFrom, StageNameIsLowerCased) {
    BuildPlan plan = lower_text("FROM scratch AS Build\n");
    EXPECT_EQ(plan.stages[0].name, "build");
    EXPECT_EQ(plan.stages[0].line, 1);
}

TEST(LowerFrom, LastStageIsTheDefaultTarget) {
    BuildPlan plan = lower_text("FROM scratch AS a\nFROM scratch AS b\n");
    ASSERT_EQ(plan.stages.size(), 2u);
    EXPECT_EQ(plan.target, 1);
    EXPECT_EQ(plan.stages[1].index, 1);
}

TEST(LowerFrom, TargetSelectsNamedStage) {
    LowerOptions options;
    options.target = "first";
    BuildPlan plan =
        lower_text("FROM scratch AS first\nENV A=1\nFROM scratch AS second\n", options);
    EXPECT_EQ(plan.target, 0);
    EXPECT_EQ(env_of(plan, "A"), "1");
}

TEST(LowerFrom, UnknownTargetThrows) {
    LowerOptions options;
    options.target = "nope";
    DockerfileError e = lower_error("FROM scratch AS first\n", options);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
}

TEST(LowerFrom, GlobalArgIsUsedInFrom) {
    BuildPlan plan = lower_text("ARG BASE=scratch\nFROM ${BASE}\n");
    EXPECT_EQ(plan.stages[0].base, "scratch");
}

TEST(LowerFrom, BuildArgOverridesGlobalArgInFrom) {
    // Only scratch can be lowered, so override a non-scratch default with scratch.
    BuildPlan plan = lower_with_args("ARG BASE=alpine\nFROM $BASE\n", {{"BASE", "scratch"}});
    EXPECT_EQ(plan.stages[0].base, "scratch");
}

// --- ENV and LABEL expansion -----------------------------------------------------------------

TEST(LowerEnv, DefaultValueExpansion) {
    BuildPlan plan = lower_text("FROM scratch\nENV A=${UNSET:-fallback}\n");
    EXPECT_EQ(env_of(plan, "A"), "fallback");
}

TEST(LowerEnv, SeesEarlierEnvInstruction) {
    BuildPlan plan = lower_text("FROM scratch\nENV A=one\nENV B=${A}-two\n");
    EXPECT_EQ(env_of(plan, "B"), "one-two");
}

TEST(LowerEnv, CanExtendPath) {
    BuildPlan plan = lower_text("FROM scratch\nENV PATH=/opt/bin:$PATH\n");
    EXPECT_EQ(env_of(plan, "PATH"), std::string("/opt/bin:") + kDefaultPath);
    EXPECT_EQ(settings(plan).env.size(), 1u);  // replaced in place, not added twice
}

// As BuildKit: every word of one ENV instruction is expanded with the environment as it was
// before the instruction (Docker docs: "ENV abc=bye def=$abc" gives def=hello).
TEST(LowerEnv, PairsOfOneInstructionSeeTheEnvironmentBeforeIt) {
    BuildPlan plan =
        lower_text("FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n");
    EXPECT_EQ(env_of(plan, "abc"), "bye");
    EXPECT_EQ(env_of(plan, "def"), "hello");
    EXPECT_EQ(env_of(plan, "ghi"), "bye");
}

TEST(LowerEnv, HistoryText) {
    BuildPlan plan = lower_text("FROM scratch\nENV A=1 B=\"two words\"\n");
    EXPECT_EQ(last_step(plan).created_by, "ENV A=1 B=two words");
    EXPECT_EQ(last_step(plan).kind, Step::Kind::metadata);
    EXPECT_EQ(last_step(plan).keyword, "ENV");
    EXPECT_EQ(last_step(plan).line, 2);
}

TEST(LowerLabel, ExpandsKeysAndValues) {
    BuildPlan plan =
        lower_text("FROM scratch\nENV V=1.0 K=org.version\nLABEL $K=$V other=${NOPE:-x}\n");
    std::map<std::string, std::string> want = {{"org.version", "1.0"}, {"other", "x"}};
    EXPECT_EQ(settings(plan).labels, want);
    EXPECT_EQ(last_step(plan).created_by, "LABEL org.version=1.0 other=x");
}

// --- ARG ---------------------------------------------------------------------------------------

TEST(LowerArg, DefaultValueIsVisibleToLaterInstructions) {
    BuildPlan plan = lower_text("FROM scratch\nARG V=def\nENV E=$V\n");
    EXPECT_EQ(env_of(plan, "E"), "def");
}

TEST(LowerArg, BuildArgOverridesDefault) {
    BuildPlan plan = lower_with_args("FROM scratch\nARG V=def\nENV E=$V\n", {{"V", "cli"}});
    EXPECT_EQ(env_of(plan, "E"), "cli");
    EXPECT_TRUE(plan.unused_build_args.empty());
}

TEST(LowerArg, ArgIsNotPartOfTheImageEnv) {
    BuildPlan plan = lower_text("FROM scratch\nARG V=def\n");
    EXPECT_FALSE(env_of(plan, "V").has_value());
}

TEST(LowerArg, ArgWithoutValueStaysUnset) {
    BuildPlan plan = lower_text("FROM scratch\nARG V\nENV E=${V:-unset}\n");
    EXPECT_EQ(env_of(plan, "E"), "unset");
}

TEST(LowerArg, GlobalArgIsNotVisibleInStageWithoutRedeclaring) {
    BuildPlan plan = lower_text("ARG G=global\nFROM scratch\nENV E=x${G}\n");
    EXPECT_EQ(env_of(plan, "E"), "x");
}

TEST(LowerArg, RedeclaredGlobalArgTakesGlobalValue) {
    BuildPlan plan = lower_text("ARG G=global\nFROM scratch\nARG G\nENV E=$G\n");
    EXPECT_EQ(env_of(plan, "E"), "global");
}

TEST(LowerArg, RedeclaredGlobalArgTakesBuildArg) {
    BuildPlan plan =
        lower_with_args("ARG G=global\nFROM scratch\nARG G\nENV E=$G\n", {{"G", "cli"}});
    EXPECT_EQ(env_of(plan, "E"), "cli");
}

TEST(LowerArg, StageArgsDoNotLeakIntoNextStage) {
    BuildPlan plan = lower_text("FROM scratch\nARG V=1\nFROM scratch\nENV E=x$V\n");
    EXPECT_EQ(env_of(plan, "E"), "x");
}

TEST(LowerArg, EnvWinsOverArgOfSameName) {
    BuildPlan plan = lower_text("FROM scratch\nARG X=arg\nENV X=env\nENV Y=$X\n");
    EXPECT_EQ(env_of(plan, "Y"), "env");
}

TEST(LowerArg, UnusedBuildArgIsReported) {
    BuildPlan plan = lower_with_args("FROM scratch\nARG USED\n", {{"USED", "1"}, {"EXTRA", "2"}});
    EXPECT_EQ(plan.unused_build_args, Strings{"EXTRA"});
}

TEST(LowerArg, PredefinedProxyBuildArgIsNotReportedUnused) {
    BuildPlan plan = lower_with_args("FROM scratch\n", {{"HTTP_PROXY", "http://p:3128"}});
    EXPECT_TRUE(plan.unused_build_args.empty());
}

TEST(LowerArg, PredefinedTargetArchOnRedeclaration) {
    LowerOptions options;
    options.arch = "arm64";
    BuildPlan plan = lower_text("FROM scratch\nARG TARGETARCH\nENV A=$TARGETARCH\n", options);
    EXPECT_EQ(env_of(plan, "A"), "arm64");
}

TEST(LowerArg, HistoryTextShowsValue) {
    BuildPlan plan = lower_with_args("FROM scratch\nARG A=1 B\n", {{"A", "9"}});
    EXPECT_EQ(last_step(plan).created_by, "ARG A=9 B");
}

// --- WORKDIR -----------------------------------------------------------------------------------

TEST(LowerWorkdir, AbsolutePath) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /app\n");
    EXPECT_EQ(settings(plan).working_dir, "/app");
    EXPECT_EQ(last_step(plan).kind, Step::Kind::workdir);
    EXPECT_EQ(last_step(plan).workdir, "/app");
    EXPECT_EQ(last_step(plan).created_by, "WORKDIR /app");
}

TEST(LowerWorkdir, RelativeIsJoinedAndCleaned) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /a\nWORKDIR b/../c/./d/\n");
    EXPECT_EQ(settings(plan).working_dir, "/a/c/d");
    EXPECT_EQ(last_step(plan).workdir, "/a/c/d");
}

TEST(LowerWorkdir, RelativeWithoutEarlierWorkdirIsUnderRoot) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR app\n");
    EXPECT_EQ(settings(plan).working_dir, "/app");
}

TEST(LowerWorkdir, ExpandsEnv) {
    BuildPlan plan = lower_text("FROM scratch\nENV D=/srv\nWORKDIR $D/www\n");
    EXPECT_EQ(settings(plan).working_dir, "/srv/www");
}

// --- COPY --------------------------------------------------------------------------------------

TEST(LowerCopy, DestRelativeToWorkdir) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /app\nCOPY a b\n");
    const Step& s = last_step(plan);
    EXPECT_EQ(s.kind, Step::Kind::copy);
    EXPECT_EQ(s.copy.sources, Strings{"a"});
    EXPECT_EQ(s.copy.dest, "/app/b");
    EXPECT_FALSE(s.copy.dest_is_dir);
}

TEST(LowerCopy, TrailingSlashMeansDirectory) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY a /dir/\n");
    EXPECT_EQ(last_step(plan).copy.dest, "/dir");
    EXPECT_TRUE(last_step(plan).copy.dest_is_dir);
}

TEST(LowerCopy, DotDestIsWorkdirAsDirectory) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /app\nCOPY a .\n");
    EXPECT_EQ(last_step(plan).copy.dest, "/app");
    EXPECT_TRUE(last_step(plan).copy.dest_is_dir);
}

TEST(LowerCopy, SeveralSourcesMeanDirectory) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY a b /dir\n");
    EXPECT_EQ(last_step(plan).copy.sources, (Strings{"a", "b"}));
    EXPECT_EQ(last_step(plan).copy.dest, "/dir");
    EXPECT_TRUE(last_step(plan).copy.dest_is_dir);
}

TEST(LowerCopy, ExpandsSourcesDestAndFlags) {
    BuildPlan plan = lower_text(
        "FROM scratch\nENV S=src U=1000 M=0640\nCOPY --chown=$U:$U --chmod=$M $S /d/$S\n");
    const CopySpec& c = last_step(plan).copy;
    EXPECT_EQ(c.sources, Strings{"src"});
    EXPECT_EQ(c.dest, "/d/src");
    EXPECT_EQ(c.chown, "1000:1000");
    EXPECT_EQ(c.chmod, "0640");
}

TEST(LowerCopy, JsonForm) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY [\"a b\", \"/c d/\"]\n");
    EXPECT_EQ(last_step(plan).copy.sources, Strings{"a b"});
    EXPECT_EQ(last_step(plan).copy.dest, "/c d");
    EXPECT_TRUE(last_step(plan).copy.dest_is_dir);
}

TEST(LowerCopy, HistoryText) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY a /b\n");
    EXPECT_EQ(last_step(plan).created_by, "COPY a /b # buildkit");
}

TEST(LowerCopy, HistoryTextKeepsDestAsWritten) {
    BuildPlan plan = lower_text("FROM scratch\nWORKDIR /app\nCOPY a b c/\n");
    EXPECT_EQ(last_step(plan).created_by, "COPY a b c/ # buildkit");
}

// As BuildKit's dispatchCopy: --chown/--chmod are written into the history text
// ("COPY --chown=1:2 --chmod=644 a /b # buildkit").
TEST(LowerCopy, HistoryTextIncludesChownAndChmod) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY --chmod=644 --chown=1:2 a /b\n");
    EXPECT_EQ(last_step(plan).created_by, "COPY --chown=1:2 --chmod=644 a /b # buildkit");
}

TEST(LowerCopy, FromUnknownNameIsAnImage) {
    BuildPlan plan = lower_text("FROM scratch\nCOPY --from=x a /b\n");
    EXPECT_EQ(last_step(plan).copy.from, "x");
    EXPECT_EQ(last_step(plan).copy.from_image, "x");
    EXPECT_EQ(last_step(plan).copy.from_stage, -1);
}

// --- CMD / ENTRYPOINT / SHELL ------------------------------------------------------------------

TEST(LowerCmd, ShellFormWrapsWithBinSh) {
    BuildPlan plan = lower_text("FROM scratch\nCMD echo hi there\n");
    EXPECT_EQ(settings(plan).cmd, (Strings{"/bin/sh", "-c", "echo hi there"}));
    EXPECT_EQ(last_step(plan).created_by, "CMD [\"/bin/sh\" \"-c\" \"echo hi there\"]");
}

TEST(LowerCmd, ExecFormIsKept) {
    BuildPlan plan = lower_text("FROM scratch\nCMD [\"a\", \"b\"]\n");
    EXPECT_EQ(settings(plan).cmd, (Strings{"a", "b"}));
    EXPECT_EQ(last_step(plan).created_by, "CMD [\"a\" \"b\"]");
}

TEST(LowerCmd, HistoryQuotesLikeGo) {
    BuildPlan plan = lower_text("FROM scratch\nCMD [\"say \\\"hi\\\"\"]\n");
    EXPECT_EQ(settings(plan).cmd, Strings{"say \"hi\""});
    EXPECT_EQ(last_step(plan).created_by, "CMD [\"say \\\"hi\\\"\"]");
}

TEST(LowerCmd, ShellInstructionChangesShellForm) {
    BuildPlan plan = lower_text("FROM scratch\nSHELL [\"/bin/bash\", \"-lc\"]\nCMD run it\n");
    EXPECT_EQ(settings(plan).shell, (Strings{"/bin/bash", "-lc"}));
    EXPECT_EQ(settings(plan).cmd, (Strings{"/bin/bash", "-lc", "run it"}));
}

TEST(LowerCmd, ShellDoesNotAffectExecForm) {
    BuildPlan plan = lower_text("FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\nCMD [\"x\"]\n");
    EXPECT_EQ(settings(plan).cmd, Strings{"x"});
}

TEST(LowerEntrypoint, ShellFormWrapsWithBinSh) {
    BuildPlan plan = lower_text("FROM scratch\nENTRYPOINT exec app\n");
    EXPECT_EQ(settings(plan).entrypoint, (Strings{"/bin/sh", "-c", "exec app"}));
    EXPECT_EQ(last_step(plan).created_by, "ENTRYPOINT [\"/bin/sh\" \"-c\" \"exec app\"]");
}

TEST(LowerEntrypoint, KeepsCmdSetEarlierInSameStage) {
    // dispatchEntrypoint clears Cmd only when no CMD was dispatched in this stage.
    BuildPlan plan = lower_text("FROM scratch\nCMD [\"--help\"]\nENTRYPOINT [\"app\"]\n");
    EXPECT_EQ(settings(plan).entrypoint, Strings{"app"});
    EXPECT_EQ(settings(plan).cmd, Strings{"--help"});
}

TEST(LowerEntrypoint, WithoutCmdLeavesCmdUnset) {
    BuildPlan plan = lower_text("FROM scratch\nENTRYPOINT [\"app\"]\n");
    EXPECT_FALSE(settings(plan).cmd.has_value());
}

TEST(LowerEntrypoint, CmdAfterEntrypointIsKept) {
    BuildPlan plan = lower_text("FROM scratch\nENTRYPOINT [\"app\"]\nCMD [\"x\"]\n");
    EXPECT_EQ(settings(plan).cmd, Strings{"x"});
}

TEST(LowerEntrypoint, CmdOfEarlierStageDoesNotCount) {
    // cmdSet belongs to a stage: a CMD in stage 0 must not protect anything in stage 1.
    LowerOptions options;
    options.all_stages = true;  // stage 0 is not needed by the target otherwise
    BuildPlan plan =
        lower_text("FROM scratch\nCMD [\"a\"]\nFROM scratch\nENTRYPOINT [\"e\"]\n", options);
    EXPECT_FALSE(settings(plan).cmd.has_value());
    EXPECT_EQ(plan.stages[0].settings.cmd, Strings{"a"});
}

TEST(LowerShell, NonJsonIsAnError) {
    DockerfileError e = lower_error("FROM scratch\nSHELL /bin/bash -c\n");
    EXPECT_EQ(e.line(), 2);
}

// As BuildKit's dispatchShell: fmt.Sprintf("SHELL %v", c.Shell), i.e. "SHELL [/bin/bash -c]"
// without quotes.
TEST(LowerShell, HistoryTextUsesGoDefaultFormat) {
    BuildPlan plan = lower_text("FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\n");
    EXPECT_EQ(last_step(plan).created_by, "SHELL [/bin/bash -c]");
}

// --- EXPOSE / VOLUME / USER / misc ---------------------------------------------------------------

TEST(LowerExpose, DefaultProtocolIsTcp) {
    BuildPlan plan = lower_text("FROM scratch\nEXPOSE 80\n");
    EXPECT_EQ(settings(plan).exposed_ports, std::set<std::string>{"80/tcp"});
    EXPECT_EQ(last_step(plan).created_by, "EXPOSE map[80/tcp:{}]");
}

TEST(LowerExpose, RangesAndProtocols) {
    BuildPlan plan = lower_text("FROM scratch\nEXPOSE 8000-8002/tcp 53/UDP 9/sctp\n");
    std::set<std::string> want = {"8000/tcp", "8001/tcp", "8002/tcp", "53/udp", "9/sctp"};
    EXPECT_EQ(settings(plan).exposed_ports, want);
    EXPECT_EQ(last_step(plan).created_by,
              "EXPOSE map[53/udp:{} 8000/tcp:{} 8001/tcp:{} 8002/tcp:{} 9/sctp:{}]");
}

TEST(LowerExpose, PortsAccumulateAcrossInstructions) {
    BuildPlan plan = lower_text("FROM scratch\nEXPOSE 80\nEXPOSE 443\n");
    EXPECT_EQ(settings(plan).exposed_ports, (std::set<std::string>{"443/tcp", "80/tcp"}));
}

// As BuildKit's dispatchExpose: the history names only the ports of this instruction
// (fmt.Sprintf("EXPOSE %v", ps) with ps parsed from c.Ports).
TEST(LowerExpose, HistoryTextNamesOnlyThisInstructionsPorts) {
    BuildPlan plan = lower_text("FROM scratch\nEXPOSE 80\nEXPOSE 443\n");
    EXPECT_EQ(last_step(plan).created_by, "EXPOSE map[443/tcp:{}]");
}

TEST(LowerExpose, InvalidProtocolThrows) {
    DockerfileError e = lower_error("FROM scratch\nEXPOSE 80/xyz\n");
    EXPECT_EQ(e.line(), 2);
}

TEST(LowerExpose, InvalidPortThrows) {
    DockerfileError e = lower_error("FROM scratch\nEXPOSE 80x\n");
    EXPECT_STREQ(e.what(), "Dockerfile:2: invalid containerPort: 80x");
    EXPECT_EQ(e.line(), 2);
}

TEST(LowerExpose, ExpandsVariables) {
    BuildPlan plan = lower_text("FROM scratch\nENV P=8080\nEXPOSE $P/udp\n");
    EXPECT_EQ(settings(plan).exposed_ports, std::set<std::string>{"8080/udp"});
}

TEST(LowerVolume, JsonForm) {
    BuildPlan plan = lower_text("FROM scratch\nVOLUME [\"/data\", \"/logs\"]\n");
    EXPECT_EQ(settings(plan).volumes, (std::set<std::string>{"/data", "/logs"}));
    EXPECT_EQ(last_step(plan).created_by, "VOLUME [/data /logs]");
}

TEST(LowerVolume, PlainForm) {
    BuildPlan plan = lower_text("FROM scratch\nENV D=/data\nVOLUME $D /logs\n");
    EXPECT_EQ(settings(plan).volumes, (std::set<std::string>{"/data", "/logs"}));
    EXPECT_EQ(last_step(plan).created_by, "VOLUME [/data /logs]");
}

TEST(LowerUser, ExpandsAndRecords) {
    BuildPlan plan = lower_text("FROM scratch\nENV U=app\nUSER $U:staff\n");
    EXPECT_EQ(settings(plan).user, "app:staff");
    EXPECT_EQ(last_step(plan).created_by, "USER app:staff");
}

TEST(LowerStopSignal, Recorded) {
    BuildPlan plan = lower_text("FROM scratch\nSTOPSIGNAL SIGTERM\n");
    EXPECT_EQ(settings(plan).stop_signal, "SIGTERM");
}

TEST(LowerMaintainer, BecomesAuthor) {
    BuildPlan plan = lower_text("FROM scratch\nMAINTAINER Jane Doe <jane@example.com>\n");
    EXPECT_EQ(settings(plan).maintainer, "Jane Doe <jane@example.com>");
    EXPECT_EQ(last_step(plan).created_by, "MAINTAINER Jane Doe <jane@example.com>");
}

// --- HEALTHCHECK -------------------------------------------------------------------------------

TEST(LowerHealthcheck, OptionsAndShellForm) {
    BuildPlan plan = lower_text(
        "FROM scratch\n"
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=1m30s --start-interval=500ms "
        "--retries=3 CMD curl -f http://localhost/\n");
    ASSERT_TRUE(settings(plan).healthcheck.has_value());
    const auto& hc = *settings(plan).healthcheck;
    EXPECT_EQ(hc.test, (Strings{"CMD-SHELL", "curl -f http://localhost/"}));
    EXPECT_EQ(hc.interval_ns, 30'000'000'000LL);
    EXPECT_EQ(hc.timeout_ns, 5'000'000'000LL);
    EXPECT_EQ(hc.start_period_ns, 90'000'000'000LL);
    EXPECT_EQ(hc.start_interval_ns, 500'000'000LL);
    EXPECT_EQ(hc.retries, 3);
}

TEST(LowerHealthcheck, ExecForm) {
    BuildPlan plan = lower_text("FROM scratch\nHEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n");
    ASSERT_TRUE(settings(plan).healthcheck.has_value());
    EXPECT_EQ(settings(plan).healthcheck->test, (Strings{"CMD", "/bin/check", "-q"}));
    EXPECT_EQ(settings(plan).healthcheck->interval_ns, 0);
    EXPECT_EQ(settings(plan).healthcheck->retries, 0);
}

TEST(LowerHealthcheck, None) {
    BuildPlan plan = lower_text("FROM scratch\nHEALTHCHECK NONE\n");
    ASSERT_TRUE(settings(plan).healthcheck.has_value());
    EXPECT_EQ(settings(plan).healthcheck->test, Strings{"NONE"});
}

TEST(LowerHealthcheck, BadDurationThrows) {
    DockerfileError e = lower_error("FROM scratch\nHEALTHCHECK --interval=soon CMD true\n");
    EXPECT_EQ(e.line(), 2);
}

TEST(LowerHealthcheck, UnknownTypeThrows) {
    DockerfileError e = lower_error("FROM scratch\nHEALTHCHECK PING localhost\n");
    EXPECT_STREQ(e.what(), "Dockerfile:2: Unknown type \"PING\" in HEALTHCHECK (try CMD)");
    EXPECT_EQ(e.line(), 2);
}

// BuildKit's parseHealthcheck rejects a negative count.
TEST(LowerHealthcheck, NegativeRetriesThrows) {
    DockerfileError e = lower_error("FROM scratch\nHEALTHCHECK --retries=-1 CMD true\n");
    EXPECT_STREQ(e.what(), "Dockerfile:2: --retries cannot be negative (-1)");
    EXPECT_EQ(e.line(), 2);
}

// --- ONBUILD -----------------------------------------------------------------------------------

TEST(LowerOnbuild, TriggerRecordedAsWritten) {
    BuildPlan plan = lower_text("FROM scratch\nONBUILD COPY a /b\nONBUILD ENV X=$Y\n");
    EXPECT_EQ(settings(plan).on_build, (Strings{"COPY a /b", "ENV X=$Y"}));
}

TEST(LowerOnbuild, ChainingIsRefused) {
    DockerfileError e = lower_error("FROM scratch\nONBUILD ONBUILD ENV A=1\n");
    EXPECT_STREQ(e.what(), "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    EXPECT_EQ(e.line(), 2);
}

// --- errors ------------------------------------------------------------------------------------

TEST(LowerErrors, InstructionBeforeFrom) {
    DockerfileError e = lower_error("ENV A=1\nFROM scratch\n");
    EXPECT_EQ(e.line(), 1);
    EXPECT_EQ(e.file(), "Dockerfile");
}

TEST(LowerErrors, FromWithTwoArguments) {
    DockerfileError e = lower_error("FROM scratch AS\n");
    EXPECT_EQ(e.line(), 1);
    EXPECT_NE(e.message().find("FROM requires either one or three arguments"), std::string::npos)
        << e.message();
}

TEST(LowerErrors, FromWithBadAsKeyword) {
    DockerfileError e = lower_error("FROM scratch IS name\n");
    EXPECT_STREQ(e.what(), "Dockerfile:1: FROM requires either one or three arguments");
    EXPECT_EQ(e.line(), 1);
}

TEST(LowerErrors, DuplicateStageName) {
    DockerfileError e = lower_error("FROM scratch AS a\nFROM scratch AS A\n");
    EXPECT_EQ(e.line(), 2);
}

TEST(LowerErrors, UnknownFlag) {
    DockerfileError e = lower_error("FROM scratch\nCOPY --bogus=1 a /b\n");
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(e.message().find("unknown flag"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("bogus"), std::string::npos) << e.message();
}

TEST(LowerErrors, RunNamesItsLine) {
    DockerfileError e = lower_error("FROM scratch\nENV A=1\nRUN --network=bogus echo hi\n");
    EXPECT_EQ(e.line(), 3);
    std::string what = e.what();
    EXPECT_NE(what.find("Dockerfile:3"), std::string::npos) << what;
    EXPECT_NE(what.find("network"), std::string::npos) << what;
    EXPECT_NE(e.context().find("RUN --network=bogus echo hi"), std::string::npos) << e.context();
}

TEST(LowerErrors, FilenameIsUsed) {
    LowerOptions options;
    options.filename = "build/Containerfile";
    DockerfileError e = lower_error("FROM scratch\nRUN --bogus x\n", options);
    EXPECT_EQ(e.file(), "build/Containerfile");
}

TEST(LowerFrom, ImageBase) {
    BuildPlan plan = lower_text("FROM alpine:3.19\n");
    EXPECT_EQ(plan.stages[0].base, "alpine:3.19");
    EXPECT_EQ(plan.stages[0].base_stage, -1);
}

TEST(LowerErrors, BadExpansionNamesLine) {
    DockerfileError e = lower_error("FROM scratch\nENV A=${B:?must be set}\n");
    EXPECT_EQ(e.line(), 2);
}

}  // namespace
}  // namespace kiln::frontend
