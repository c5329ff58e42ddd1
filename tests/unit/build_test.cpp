// `kiln build` as the library call cli/ makes (build/build.h), whole, through
// the seams: the base image comes from an in-memory registry
// (fake::MemoryRegistry), steps run on the native snapshotter, RUN on a
// FakeExecutor. No root, no runc, no network.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "build/build.h"
#include "build/store_ops.h"
#include "content/image_store.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "frontend/lower.h"
#include "tests/unit/build_testing.h"
#include "tests/unit/snapshotter_testing.h"

namespace kiln::build {
namespace {

namespace fs = std::filesystem;
namespace mt = content::media_type;
using kiln::testing::FakeExecutor;
using kiln::testing::Script;
using snapshotter::testing::make_tar;
using snapshotter::testing::read_all;

using kiln::testing::RecordingProgress;

using Build = BuildFixture;

const char* kDockerfile =
    "FROM registry.test/base:1\n"
    "COPY app.txt /app/\n"
    "RUN make-it\n"
    "LABEL stage=final\n";

TEST_F(Build, PullsTheBaseRunsTheStepsAndNamesTheImage) {
    context_file("app.txt", "app v1\n");
    exec_.on("make-it", Script{.writes = {{"/app/made", "made\n"}}});
    auto req = request(kDockerfile);
    req.tags = {"example/app:1"};
    req.labels = {{"from", "flag"}};
    auto result = build(req);

    EXPECT_EQ(result.steps_run, 2u);  // COPY and RUN
    EXPECT_EQ(result.steps_cached, 0u);
    EXPECT_EQ(registry_->count("GET", "/manifests/1"), 1);
    // RUN saw the base image's environment and ran in its root.
    auto run = exec_.run_of("make-it");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->env_value("FROM_BASE"), "yes");
    EXPECT_EQ(run->args.back(), "make-it");

    auto img = stored("example/app:1");
    EXPECT_EQ(img.descriptor.digest.str(), result.digest);
    EXPECT_EQ(img.manifest.layers.size(), 3u);  // base, COPY, RUN
    // Each layer's size is its blob's (the base's uncompressed tar, not the
    // registry's gzip), or umoci and skopeo read a truncated layer.
    content::StateRoot root(tmp_.path() / "root");
    for (const auto& l : img.manifest.layers)
        EXPECT_EQ(l.size, static_cast<std::int64_t>(fs::file_size(root.blobs().path(l.digest))))
            << l.digest.str();
    EXPECT_EQ(img.config.config.labels.at("stage"), "final");
    EXPECT_EQ(img.config.config.labels.at("from"), "flag");
    EXPECT_EQ(result.config_digest, img.manifest.config.digest.str());
    EXPECT_TRUE(result.pushed_digest.empty());
}

TEST_F(Build, ASecondBuildIsAllCacheHitsAndTheSameImage) {
    context_file("app.txt", "app v1\n");
    auto first = build(request(kDockerfile));
    const auto runs = exec_.calls();
    auto second = build(request(kDockerfile));
    EXPECT_EQ(second.steps_run, 0u);
    EXPECT_EQ(second.steps_cached, 2u);
    EXPECT_EQ(exec_.calls(), runs);  // RUN did not run again
    EXPECT_EQ(second.digest, first.digest);
}

TEST_F(Build, AnEditedContextFileRebuildsFromItsCopy) {
    context_file("app.txt", "app v1\n");
    auto first = build(request(kDockerfile));
    context_file("app.txt", "app v2\n");
    auto second = build(request(kDockerfile));
    EXPECT_EQ(second.steps_run, 2u);
    EXPECT_NE(second.digest, first.digest);
}

TEST_F(Build, PushSendsTheImageToTheRegistry) {
    context_file("app.txt", "app v1\n");
    auto req = request(kDockerfile);
    req.tags = {"registry.test/out/app:2"};
    req.push = true;
    auto result = build(req);
    ASSERT_FALSE(result.pushed_digest.empty());
    ASSERT_TRUE(registry_->manifests["out/app"].count("2"));
    EXPECT_EQ(content::Digest::of(registry_->manifests["out/app"]["2"].bytes).str(),
              result.pushed_digest);
}

TEST_F(Build, IidfileAndMetadataFileSayWhatWasBuilt) {
    context_file("app.txt", "app v1\n");
    auto req = request(kDockerfile);
    req.iidfile = (tmp_.path() / "iid").string();
    req.metadata_file = (tmp_.path() / "meta.json").string();
    auto result = build(req);
    EXPECT_EQ(read_all(tmp_.path() / "iid"), result.digest);
    auto meta = nlohmann::json::parse(read_all(tmp_.path() / "meta.json"));
    EXPECT_EQ(meta.at("containerimage.digest"), result.digest);
    EXPECT_EQ(meta.at("containerimage.config.digest"), result.config_digest);
    EXPECT_EQ(meta.at("kiln.steps.run"), 2);
}

TEST_F(Build, CheckOnlyCountsWarningsAndRunsNothing) {
    auto req = request("FROM registry.test/base:1 as base\nRUN make-it\n");
    req.check = true;
    auto result = build(req);
    ASSERT_TRUE(result.check_warnings);
    EXPECT_EQ(*result.check_warnings, 1u);  // FromAsCasing
    EXPECT_TRUE(result.digest.empty());
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(Build, ABadOutputFailsBeforeAnyStepRuns) {
    auto req = request(kDockerfile);
    req.outputs = {"type=nonsense"};
    EXPECT_THROW(build(req), Error);
    EXPECT_EQ(exec_.calls(), 0u);
    EXPECT_TRUE(progress_.names.empty());
}

TEST_F(Build, APushWithoutANameIsRefusedBeforeAnyWork) {
    auto req = request(kDockerfile);
    req.push = true;
    try {
        build(req);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "--push needs a name to push to: add -t NAME");
    }
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(Build, AMissingBaseImageIsReportedOnItsFromLine) {
    context_file("app.txt", "app v1\n");
    try {
        build(request("FROM registry.test/nothing:1\nRUN make-it\n"));
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind("Dockerfile:1:", 0), 0u) << what;
        EXPECT_NE(what.find("registry.test/nothing:1"), std::string::npos) << what;
    }
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(Build, ADockerfileErrorCarriesItsSourceExcerpt) {
    try {
        build(request("FROM scratch\nRUNN x\n"));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)");
        EXPECT_NE(e.detail().find(">>> RUNN x"), std::string::npos) << e.detail();
    }
}

TEST_F(Build, AMalformedDockerignoreIsAnErrorNamingTheFileBeforeAnyStep) {
    context_file(".dockerignore", "ok\nb[\n");
    try {
        build(request(kDockerfile));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  (context_ / ".dockerignore").string() + ": syntax error in pattern: b[");
    }
    EXPECT_EQ(exec_.calls(), 0u);
}

// The reader's own limit is reported the same way: the file named, before any step.
TEST_F(Build, ADockerignoreOfTooManyPatternsIsAnErrorNamingTheFile) {
    std::string many;
    for (int i = 0; i <= 10000; ++i) {
        many += "f" + std::to_string(i) + "\n";
    }
    context_file(".dockerignore", many);
    try {
        build(request(kDockerfile));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  (context_ / ".dockerignore").string() + ": more than 10000 patterns");
    }
    EXPECT_EQ(exec_.calls(), 0u);
}

TEST_F(Build, AStoredImageIsPushedByName) {
    context_file("app.txt", "app v1\n");
    auto req = request(kDockerfile);
    req.tags = {"example/app:1"};
    build(req);
    auto text = push_image(tmp_.path() / "root", "example/app:1", "registry.test/copy/app:1",
                           req.client, [](const std::string&) {});
    EXPECT_NE(text.find("registry.test/copy/app:1"), std::string::npos) << text;
    EXPECT_TRUE(registry_->manifests["copy/app"].count("1"));
}

}  // namespace
}  // namespace kiln::build
