// Whole builds through solve() (solver/solve.h) on the native snapshotter with a
// FakeExecutor: FROM, the image config the metadata instructions make, multi-stage
// builds, and how failures are reported. See solver_build_testing.h.
#include "tests/unit/recording_progress.h"
#include "tests/unit/solver_build_testing.h"

namespace kiln::solver::testing {
namespace {

using Strings = std::vector<std::string>;

class SolverBuild : public SolverBuildFixture {};

TEST_F(SolverBuild, FromScratchCopyMakesOneLayerWithTheFile) {
    context_file("a.txt", "hello\n");
    auto image = build("FROM scratch\nCOPY a.txt /a.txt\n");
    EXPECT_EQ(layer_count(image), 1u);
    EXPECT_EQ(file_in(image, "/a.txt"), "hello\n");
    ASSERT_EQ(image.steps.size(), 1u);
    EXPECT_EQ(image.steps[0].history.created_by, "COPY a.txt /a.txt # buildkit");
    EXPECT_EQ(image.steps[0].history.created, "2024-01-01T00:00:00Z");
    EXPECT_EQ(image.config.os, "linux");
    EXPECT_EQ(image.config.architecture, "amd64");
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(SolverBuild, FromImageStartsWithItsLayersHistoryAndPlatform) {
    add_base_image();
    exec_.on("make", {.writes = {{"/made.txt", "made\n"}}});
    auto image = build("FROM base\nRUN make\n");
    ASSERT_EQ(image.steps.size(), 2u);
    EXPECT_EQ(image.steps[0].history.created_by, "base layer");
    EXPECT_EQ(image.steps[0].stored_layer->digest, images_["base"].config.diff_ids[0]);
    EXPECT_EQ(image.steps[1].history.created_by, "RUN /bin/sh -c make # buildkit");
    EXPECT_EQ(file_in(image, "/base.txt"), "from the base\n");
    EXPECT_EQ(file_in(image, "/made.txt"), "made\n");
    // The platform is the base image's, its ENV carried on.
    EXPECT_EQ(image.config.architecture, "arm64");
    EXPECT_EQ(config_env(image, "FROM_BASE"), "yes");
}

TEST_F(SolverBuild, MetadataInstructionsAreInTheConfigAndMakeNoLayer) {
    add_base_image();
    auto image = build(
        "FROM base\n"
        "ENV GREETING=hello\n"
        "LABEL org.example.team=core\n"
        "USER app\n"
        "EXPOSE 8080/tcp\n"
        "VOLUME /data\n"
        "STOPSIGNAL SIGTERM\n"
        "ENTRYPOINT [\"/bin/app\"]\n"
        "CMD [\"--serve\"]\n"
        "HEALTHCHECK --interval=5s CMD [\"/bin/app\", \"check\"]\n");
    const auto& c = image.config.config;
    EXPECT_EQ(config_env(image, "GREETING"), "hello");
    EXPECT_EQ(config_env(image, "PATH"), "/usr/bin:/bin");
    EXPECT_EQ(c.labels.at("org.example.team"), "core");
    EXPECT_EQ(c.user, "app");
    EXPECT_TRUE(c.exposed_ports.contains("8080/tcp"));
    EXPECT_TRUE(c.volumes.contains("/data"));
    EXPECT_EQ(c.stop_signal, "SIGTERM");
    EXPECT_EQ(c.entrypoint, (Strings{"/bin/app"}));
    EXPECT_EQ(c.cmd, (Strings{"--serve"}));
    ASSERT_TRUE(c.healthcheck.has_value());
    EXPECT_EQ((*c.healthcheck)["Interval"], 5000000000LL);
    EXPECT_EQ(layer_count(image), 1u);  // the base's only
    for (size_t i = 1; i < image.steps.size(); ++i)
        EXPECT_TRUE(image.steps[i].history.empty_layer) << image.steps[i].history.created_by;
    EXPECT_EQ(exec_.calls(), 0u);
    EXPECT_EQ(image.stats.steps_run, 0u);
}

TEST_F(SolverBuild, WorkdirIsInTheConfigAndCreated) {
    add_base_image();
    auto image = build("FROM base\nWORKDIR /srv/app\n");
    EXPECT_EQ(image.config.config.working_dir, "/srv/app");
    EXPECT_TRUE(fs::is_directory(tree(image) / "srv/app"));
    EXPECT_EQ(layer_count(image), 2u);
}

TEST_F(SolverBuild, MultiStageCopiesWhatAnEarlierStageMade) {
    add_base_image();
    exec_.on("compile", {.writes = {{"/out/app", "binary\n"}}});
    auto image = build(
        "FROM base AS build\n"
        "RUN compile\n"
        "FROM scratch\n"
        "COPY --from=build /out/app /app\n");
    EXPECT_EQ(file_in(image, "/app"), "binary\n");
    EXPECT_FALSE(fs::exists(tree(image) / "base.txt"));  // only the target's layers
    EXPECT_EQ(layer_count(image), 1u);
    EXPECT_EQ(exec_.calls(), 1u);
}

TEST_F(SolverBuild, StageBuiltFromAnotherStageHasItsFiles) {
    add_base_image();
    exec_.on("first", {.writes = {{"/one", "1"}}});
    exec_.on("second", {.writes = {{"/two", "2"}}});
    auto image = build("FROM base AS a\nRUN first\nFROM a\nRUN second\n");
    EXPECT_EQ(file_in(image, "/one"), "1");
    EXPECT_EQ(file_in(image, "/two"), "2");
    EXPECT_EQ(file_in(image, "/base.txt"), "from the base\n");
}

TEST_F(SolverBuild, StagesTheTargetDoesNotNeedAreNotBuilt) {
    add_base_image();
    auto image = build(
        "FROM base AS unused\n"
        "RUN never\n"
        "FROM base AS wanted\n"
        "RUN wanted\n"
        "FROM base AS last\n"
        "RUN last\n",
        {.target = "wanted"});
    EXPECT_FALSE(exec_.run_of("never"));
    EXPECT_FALSE(exec_.run_of("last"));
    EXPECT_TRUE(exec_.run_of("wanted"));
}

TEST_F(SolverBuild, FailingRunNamesTheDockerfileLineAndExitCode) {
    add_base_image();
    exec_.on("false", {.exit_code = 3});
    EXPECT_EQ(build_error("FROM base\nENV A=1\nRUN false\n"),
              "Dockerfile:3: RUN failed: process \"/bin/sh -c false\" did not complete "
              "successfully: exit code: 3");
}

TEST_F(SolverBuild, MissingCopySourceNamesTheLine) {
    EXPECT_EQ(
        build_error("FROM scratch\nCOPY nope.txt /\n").rfind("Dockerfile:2: COPY failed: ", 0), 0u);
}

TEST_F(SolverBuild, MissingBaseImageIsReportedOnTheFromLineBeforeAnyStep) {
    add_base_image();
    std::string msg = build_error("FROM base\nRUN first\nFROM nope\nRUN second\n");
    EXPECT_EQ(msg, "Dockerfile:3: FROM nope: no such image in the local store");
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(SolverBuild, RunNetworkHostNeedsTheEntitlement) {
    add_base_image();
    EXPECT_EQ(build_error("FROM base\nRUN --network=host fetch\n"),
              "Dockerfile:2: RUN --network=host is not allowed: start the build with --allow "
              "network.host");
    EXPECT_EQ(exec_.calls(), 0u);
    policy_.allow_network_host = true;
    build("FROM base\nRUN --network=host fetch\n");
    EXPECT_EQ(exec_.run_of("fetch")->network, sandbox::RunOptions::Network::host);
}

TEST_F(SolverBuild, RunSecurityInsecureNeedsTheEntitlement) {
    add_base_image();
    EXPECT_EQ(build_error("FROM base\nRUN --security=insecure mount\n"),
              "Dockerfile:2: RUN --security=insecure is not allowed: start the build with "
              "--allow security.insecure");
    policy_.allow_insecure = true;
    build("FROM base\nRUN --security=insecure mount\nRUN plain\n");
    EXPECT_TRUE(exec_.run_of("mount")->insecure);
    EXPECT_FALSE(exec_.run_of("plain")->insecure);
}

using kiln::testing::RecordingProgress;

TEST_F(SolverBuild, ProgressNamesStepsAsBuildKitAndCarriesRunOutput) {
    add_base_image();
    exec_.on("hello", {.output = {"hello world"}});
    RecordingProgress progress;
    auto plan = lower_text("FROM base AS a\nRUN hello\nFROM a\nENV X=1\nRUN fail\n");
    exec_.on("fail", {.exit_code = 1});
    auto d = deps();
    d.progress = &progress;
    SolvePolicy p = policy_;
    p.context_dir = context_;
    p.work_dir = tmp_.path() / "work";
    EXPECT_THROW(solve(plan, d, p), Error);
    EXPECT_EQ(progress.names, (Strings{"[a 1/1] RUN hello", "[stage-1 1/1] RUN fail"}));
    EXPECT_EQ(progress.logs, (Strings{"[a 1/1] RUN hello: hello world"}));
    ASSERT_EQ(progress.errors.size(), 1u);
    EXPECT_EQ(progress.errors[0].rfind("Dockerfile:5: RUN failed: ", 0), 0u);
}

}  // namespace
}  // namespace kiln::solver::testing
