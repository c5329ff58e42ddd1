// RUN through the solver and the Executor seam: what the process is asked to
// run with (argv, env, user, cwd, mounts, network) and what its changes make.
// See solver_build_testing.h; the real sandbox is covered by the integration tests.
#include "tests/unit/solver_build_testing.h"

namespace kiln::solver::testing {
namespace {

using Strings = std::vector<std::string>;
using Network = sandbox::RunOptions::Network;

class SolverBuildRun : public SolverBuildFixture {
  protected:
    void SetUp() override { add_base_image(); }
    RecordedRun only_run() {
        auto runs = exec_.runs();
        EXPECT_EQ(runs.size(), 1u);
        return runs.empty() ? RecordedRun{} : runs.front();
    }
};

TEST_F(SolverBuildRun, ShellFormRunsThroughTheShell) {
    build("FROM base\nRUN echo hi > /x\n");
    EXPECT_EQ(only_run().args, (Strings{"/bin/sh", "-c", "echo hi > /x"}));
}

// So that the build's private network can go while the last layers are made.
TEST_F(SolverBuildRun, TheExecutorHearsOfTheLastRunOnce) {
    Script writes_x;
    writes_x.writes["/x"] = "x";
    exec_.on("one", writes_x);
    build(
        "FROM base AS a\nRUN one\nFROM base\nRUN two\nCOPY --from=a /x /x\nRUN three\n"
        "COPY --from=a /x /y\n");
    EXPECT_EQ(exec_.no_more_runs_after(), (std::vector<size_t>{3}));
}

TEST_F(SolverBuildRun, NoRunLeftToRunMeansNoHint) {
    build("FROM base\nCOPY --from=base /etc /etc2\n");
    EXPECT_TRUE(exec_.no_more_runs_after().empty());
}

TEST_F(SolverBuildRun, ExecFormRunsTheArgvAsWritten) {
    build("FROM base\nRUN [\"/bin/echo\", \"a b\", \"$HOME\"]\n");
    EXPECT_EQ(only_run().args, (Strings{"/bin/echo", "a b", "$HOME"}));
}

TEST_F(SolverBuildRun, ShellInstructionChangesTheShell) {
    build("FROM base\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\nRUN a | b\n");
    EXPECT_EQ(only_run().args, (Strings{"/bin/bash", "-eo", "pipefail", "-c", "a | b"}));
}

TEST_F(SolverBuildRun, EnvAndArgsAreInTheEnvironment) {
    frontend::LowerOptions lo;
    lo.build_args = {{"VERSION", "1.2"}, {"HTTP_PROXY", "http://proxy:3128"}};
    build("FROM base\nARG VERSION\nARG MODE=fast\nENV HOME=/root GREETING=hi\nRUN run\n", lo);
    auto run = only_run();
    EXPECT_EQ(run.env_value("VERSION"), "1.2");
    EXPECT_EQ(run.env_value("MODE"), "fast");
    EXPECT_EQ(run.env_value("GREETING"), "hi");
    EXPECT_EQ(run.env_value("FROM_BASE"), "yes");  // the base image's ENV
    EXPECT_EQ(run.env_value("PATH"), "/usr/bin:/bin");
    EXPECT_EQ(run.env_value("HTTP_PROXY"), "http://proxy:3128");  // a predefined proxy arg
}

TEST_F(SolverBuildRun, ArgsAreNotInTheImageConfig) {
    auto image = build("FROM base\nARG MODE=fast\nRUN run\n");
    EXPECT_EQ(only_run().env_value("MODE"), "fast");
    EXPECT_FALSE(config_env(image, "MODE"));
}

TEST_F(SolverBuildRun, UserIsResolvedInTheImage) {
    build("FROM base\nUSER app\nRUN as-app\nUSER 42:7\nRUN as-42\nUSER root\nRUN as-root\n");
    auto app = exec_.run_of("as-app");
    EXPECT_EQ(app->user.uid, 1000u);
    EXPECT_EQ(app->user.gid, 1000u);
    auto n = exec_.run_of("as-42");
    EXPECT_EQ(n->user.uid, 42u);
    EXPECT_EQ(n->user.gid, 7u);
    EXPECT_EQ(exec_.run_of("as-root")->user.uid, 0u);
}

TEST_F(SolverBuildRun, UnknownUserFailsTheStep) {
    std::string msg = build_error("FROM base\nUSER nobody-here\nRUN x\n");
    EXPECT_EQ(msg,
              "Dockerfile:3: RUN failed: unable to find user nobody-here: no matching "
              "entries in passwd file");
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(SolverBuildRun, WorkdirIsTheWorkingDirectory) {
    build("FROM base\nRUN at-root\nWORKDIR /src\nWORKDIR sub\nRUN in-sub\n");
    EXPECT_EQ(exec_.run_of("at-root")->cwd, "/");
    EXPECT_EQ(exec_.run_of("in-sub")->cwd, "/src/sub");
}

TEST_F(SolverBuildRun, NetworkIsTheStepsOrTheBuildsDefault) {
    build("FROM base\nRUN default\nRUN --network=none offline\n");
    EXPECT_EQ(exec_.run_of("default")->network, Network::private_ns);
    EXPECT_EQ(exec_.run_of("offline")->network, Network::none);
    policy_.network = "none";
    build("FROM base\nRUN default-none\n");
    EXPECT_EQ(exec_.run_of("default-none")->network, Network::none);
}

TEST_F(SolverBuildRun, WhatTheProcessWritesAndRemovesIsTheLayer) {
    exec_.on("install", {.writes = {{"/usr/bin/tool", "#!tool"}}, .removes = {"/base.txt"}});
    auto image = build("FROM base\nRUN install\n");
    EXPECT_EQ(layer_count(image), 2u);
    EXPECT_EQ(file_in(image, "/usr/bin/tool"), "#!tool");
    EXPECT_FALSE(fs::exists(tree(image) / "base.txt"));
}

TEST_F(SolverBuildRun, RunThatChangesNothingMakesNoLayer) {
    auto image = build("FROM base\nRUN true\n");
    EXPECT_EQ(layer_count(image), 1u);
    EXPECT_TRUE(image.steps.back().history.empty_layer);
}

TEST_F(SolverBuildRun, CacheMountIsABindThatOutlivesTheStepAndIsNotInTheLayer) {
    exec_.on("fill", {.writes = {{"/root/.cache/pkg", "downloaded"}}});
    auto image = build("FROM base\nRUN --mount=type=cache,target=/root/.cache fill\n");
    auto run = only_run();
    const auto* m = run.mount_at("/root/.cache");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->type, "bind");
    EXPECT_EQ(m->options, (Strings{"rbind", "rw"}));
    EXPECT_FALSE(fs::exists(tree(image) / "root/.cache/pkg"));
    // A later step with the same cache id sees what the first left.
    std::string seen;
    exec_.on("use", {.then = [&](const sandbox::ExecRequest&, const auto& host) {
                 seen = kiln::snapshotter::testing::read_all(host("/cache/pkg"));
             }});
    build("FROM base\nRUN --mount=type=cache,id=/root/.cache,target=/cache use\n");
    EXPECT_EQ(seen, "downloaded");
}

TEST_F(SolverBuildRun, SecretIsMountedWithItsValueOnlyWhileRunning) {
    policy_.secrets["token"] = {.file = "", .value = "s3cret"};
    auto image = build(
        "FROM base\n"
        "RUN --mount=type=secret,id=token use-default\n"
        "RUN --mount=type=secret,id=token,target=/etc/tok use-target\n"
        "RUN --mount=type=secret,id=token,env=TOKEN use-env\n");
    EXPECT_EQ(exec_.run_of("use-default")->mounted_files.at("/run/secrets/token"), "s3cret");
    EXPECT_EQ(exec_.run_of("use-target")->mounted_files.at("/etc/tok"), "s3cret");
    EXPECT_EQ(exec_.run_of("use-env")->env_value("TOKEN"), "s3cret");
    EXPECT_EQ(exec_.run_of("use-env")->mount_at("/run/secrets/token"), nullptr);
    EXPECT_FALSE(fs::exists(tree(image) / "run/secrets/token"));
}

TEST_F(SolverBuildRun, RequiredSecretThatWasNotGivenFailsTheStep) {
    EXPECT_EQ(build_error("FROM base\nRUN --mount=type=secret,id=key,required=true x\n"),
              "Dockerfile:2: RUN failed: secret key is required but was not given (--secret "
              "id=key,src=...)");
    build("FROM base\nRUN --mount=type=secret,id=key optional\n");
    EXPECT_TRUE(exec_.run_of("optional")->mounts.empty());
}

TEST_F(SolverBuildRun, BindMountOfTheContextIsReadOnlyByDefault) {
    context_file("src/main.c", "int main;\n");
    build("FROM base\nRUN --mount=type=bind,source=src,target=/mnt/src compile\n");
    auto run = only_run();
    const auto* m = run.mount_at("/mnt/src");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->options, (Strings{"rbind", "ro"}));
    EXPECT_EQ(kiln::snapshotter::testing::read_all(fs::path(m->source) / "main.c"), "int main;\n");
}

TEST_F(SolverBuildRun, WritesThroughAnRwBindMountAreDiscarded) {
    context_file("src/main.c", "int main;\n");
    exec_.on("scribble", {.writes = {{"/mnt/src/new.o", "obj"}}});
    auto image = build("FROM base\nRUN --mount=type=bind,source=src,target=/mnt/src,rw scribble\n");
    EXPECT_EQ(only_run().mount_at("/mnt/src")->options, (Strings{"rbind", "rw"}));
    EXPECT_FALSE(fs::exists(context_ / "src/new.o"));
    EXPECT_FALSE(fs::exists(tree(image) / "mnt/src/new.o"));
}

TEST_F(SolverBuildRun, BindMountFromAStageSeesItsFiles) {
    exec_.on("produce", {.writes = {{"/out/lib.so", "lib"}}});
    std::string seen;
    exec_.on("consume", {.then = [&](const sandbox::ExecRequest&, const auto& host) {
                 seen = kiln::snapshotter::testing::read_all(host("/deps/lib.so"));
             }});
    build(
        "FROM base AS deps\nRUN produce\n"
        "FROM base\nRUN --mount=type=bind,from=deps,source=/out,target=/deps consume\n");
    EXPECT_EQ(seen, "lib");
}

TEST_F(SolverBuildRun, TmpfsMountIsATmpfs) {
    build("FROM base\nRUN --mount=type=tmpfs,target=/scratch,size=64m x\n");
    auto run = only_run();
    const auto* m = run.mount_at("/scratch");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->type, "tmpfs");
    EXPECT_EQ(m->options, (Strings{"nosuid", "nodev", "size=64m"}));
}

TEST_F(SolverBuildRun, HeredocWithoutShebangIsTheShellsCommand) {
    build("FROM base\nRUN <<EOT\necho one\necho two\nEOT\n");
    EXPECT_EQ(only_run().args, (Strings{"/bin/sh", "-c", "echo one\necho two\n"}));
}

TEST_F(SolverBuildRun, HeredocScriptWithShebangIsMountedAndRun) {
    build("FROM base\nRUN <<EOT\n#!/bin/sh\necho two\nEOT\n");
    auto run = only_run();
    EXPECT_EQ(run.args, (Strings{"/dev/pipes/EOT"}));
    EXPECT_EQ(run.mounted_files.at("/dev/pipes/EOT"), "#!/bin/sh\necho two\n");
    EXPECT_EQ(run.mount_at("/dev/pipes/EOT")->options, (Strings{"rbind", "ro"}));
}

}  // namespace
}  // namespace kiln::solver::testing
