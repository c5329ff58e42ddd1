// --cache-to / --cache-from / --explain-cache through build::build: two
// "runners" (two state roots, two context directories) share one in-memory
// registry or one OCI layout, as CI runners share a registry.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "content/atomic_file.h"
#include "tests/unit/build_testing.h"

namespace kiln::build {
namespace {

namespace fs = std::filesystem;
using kiln::testing::Script;

// A build stage whose RUN makes a tool, and a final stage that copies it.
const char* kTwoStages =
    "FROM registry.test/base:1 AS tools\n"
    "COPY tool.txt /src/\n"
    "RUN make-tool\n"
    "FROM registry.test/base:1\n"
    "COPY --from=tools /out/tool /bin/tool\n"
    "COPY app.txt /app/\n"
    "RUN make-app\n";

class SharedCache : public BuildFixture {
  protected:
    SharedCache() {
        context_file("tool.txt", "tool v1\n");
        context_file("app.txt", "app v1\n");
        exec_.on("make-tool", Script{.writes = {{"/out/tool", "tool\n"}}});
        exec_.on("make-app", Script{.writes = {{"/app/made", "made\n"}}});
    }
    // Runner A: its own root and context.
    BuildRequest runner_a(const std::string& dockerfile = kTwoStages) {
        return request(dockerfile);
    }
    // Runner B: a fresh root and the same files at another path, with other mtimes.
    BuildRequest runner_b(const std::string& dockerfile = kTwoStages) {
        auto r = request(dockerfile);
        r.state_root = tmp_.path() / "root-b";
        const fs::path ctx = tmp_.path() / "checkout-b";
        fs::remove_all(ctx);
        fs::copy(context_, ctx, fs::copy_options::recursive);
        for (const auto& e : fs::directory_iterator(ctx))
            fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(5));
        r.context = ctx.string();
        return r;
    }
    size_t runs() const { return exec_.calls(); }
    bool warned(const std::string& part) const {
        return std::any_of(progress_.warnings.begin(), progress_.warnings.end(),
                           [&](const std::string& w) { return w.find(part) != std::string::npos; });
    }
    std::string warnings() const {
        std::string all;
        for (const auto& w : progress_.warnings)
            all += w + "\n";
        return all;
    }
};

// Every blob a root holds is JSON (manifests, configs): no layer was downloaded.
void expect_no_layer_blob(const fs::path& root) {
    for (const auto& e : fs::directory_iterator(root / "blobs" / "sha256")) {
        const std::string bytes = read_file(e.path());
        EXPECT_TRUE(!bytes.empty() && bytes[0] == '{')
            << e.path() << " is a layer (" << bytes.size() << " bytes)";
    }
}

TEST_F(SharedCache, AFreshRunnerHitsEveryStepAndDownloadsNoLayer) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=max"};
    a.tags = {"registry.test/app:1"};
    a.push = true;
    auto built = build(a);
    ASSERT_EQ(built.steps_run, 5u);
    const size_t ran = runs();

    auto b = runner_b();
    b.cache_from = {"registry.test/app:cache"};
    b.tags = {"registry.test/app:2"};
    b.push = true;
    auto rebuilt = build(b);
    EXPECT_EQ(rebuilt.steps_run, 0u) << warnings();
    EXPECT_EQ(rebuilt.steps_cached, 5u);
    EXPECT_EQ(runs(), ran) << "no RUN ran on runner B";
    EXPECT_EQ(rebuilt.pushed_digest, built.pushed_digest);
    expect_no_layer_blob(b.state_root);
}

TEST_F(SharedCache, ABuildStageThatOnlyFeedsHitsDoesNotRun) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache"};  // mode=min: no tools records
    build(a);
    auto b = runner_b();
    b.cache_from = {"type=registry,ref=registry.test/app:cache"};
    auto rebuilt = build(b);
    // COPY --from=tools hits on the tools stage's key: its result is not needed.
    EXPECT_EQ(rebuilt.steps_run, 0u) << warnings();
    EXPECT_EQ(rebuilt.steps_cached, 3u);
}

// The final stage copies from tools after a step that changes.
const char* kAppFirst =
    "FROM registry.test/base:1 AS tools\n"
    "COPY tool.txt /src/\n"
    "RUN make-tool\n"
    "FROM registry.test/base:1\n"
    "COPY app.txt /app/\n"
    "COPY --from=tools /out/tool /bin/tool\n";

TEST_F(SharedCache, ModeMinRunsTheBuildStageAMissNeedsModeMaxFetchesIt) {
    auto a = runner_a(kAppFirst);
    a.cache_to = {"type=registry,ref=registry.test/app:min",
                  "type=registry,ref=registry.test/app:max,mode=max"};
    build(a);
    context_file("app.txt", "app v2\n");
    auto from_min = runner_b(kAppFirst);
    from_min.cache_from = {"registry.test/app:min"};
    EXPECT_EQ(build(from_min).steps_run, 4u) << "tools' COPY and RUN, both final steps";
    auto from_max = runner_b(kAppFirst);
    from_max.state_root = tmp_.path() / "root-c";
    from_max.cache_from = {"registry.test/app:max"};
    auto r = build(from_max);
    EXPECT_EQ(r.steps_run, 2u) << "only the final stage's steps" << warnings();
    EXPECT_EQ(r.steps_cached, 2u);
}

TEST_F(SharedCache, AStepOnTopOfAHitFetchesTheLayersItNeedsOnce) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=max"};
    build(a);
    exec_.on("more", Script{.writes = {{"/more", "more\n"}}});
    auto b = runner_b(std::string(kTwoStages) + "RUN more\n");
    b.cache_from = {"registry.test/app:cache"};
    registry_->clear_sent();
    auto rebuilt = build(b);
    EXPECT_EQ(rebuilt.steps_run, 1u);
    EXPECT_EQ(rebuilt.steps_cached, 5u);
    // Base, COPY --from, COPY app.txt and RUN make-app layers: each GET once.
    int layer_gets = 0;
    for (const auto& s : registry_->sent())
        if (s.method == "GET" && s.url.find("/blobs/") != std::string::npos)
            ++layer_gets;
    EXPECT_EQ(layer_gets, 2 /* configs: base, cache */ + 4) << warnings();
}

TEST_F(SharedCache, TheCacheIsAnImageManifestOrAnOciArtifact) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:image",
                  "type=registry,ref=registry.test/app:artifact,image-manifest=false"};
    build(a);
    auto image = nlohmann::json::parse(registry_->manifests["app"]["image"].bytes);
    EXPECT_EQ(image["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(image["config"]["mediaType"], "application/vnd.oci.image.config.v1+json");
    EXPECT_FALSE(image.contains("artifactType"));
    EXPECT_EQ(image["annotations"]["dev.kiln.cache.version"], "1");
    auto artifact = nlohmann::json::parse(registry_->manifests["app"]["artifact"].bytes);
    EXPECT_EQ(artifact["artifactType"], "application/vnd.kiln.cache.v1+json");
    EXPECT_EQ(artifact["config"]["mediaType"], "application/vnd.kiln.cache.config.v1+json");
    auto b = runner_b();
    b.cache_from = {"registry.test/app:artifact"};
    EXPECT_EQ(build(b).steps_cached, 3u) << warnings();
}

TEST_F(SharedCache, ALocalLayoutKeepsEveryTag) {
    const std::string dir = (tmp_.path() / "cache-dir").string();
    auto a = runner_a();
    a.cache_to = {"type=local,dest=" + dir, "type=local,dest=" + dir + ",tag=other"};
    build(a);
    auto index = nlohmann::json::parse(read_file(fs::path(dir) / "index.json"));
    ASSERT_EQ(index["manifests"].size(), 2u);
    auto b = runner_b();
    b.cache_from = {"type=local,src=" + dir};
    auto rebuilt = build(b);
    EXPECT_EQ(rebuilt.steps_run, 0u) << warnings();  // the tools stage only fed hits
    auto c = runner_b();
    c.cache_from = {"type=local,src=" + dir + ",tag=other"};
    c.state_root = tmp_.path() / "root-c";
    EXPECT_EQ(build(c).steps_cached, 3u) << warnings();
}

TEST_F(SharedCache, AnInlineCacheRidesInThePushedImage) {
    auto a = runner_a();
    a.cache_to = {"type=inline"};
    a.tags = {"registry.test/app:inline"};
    a.push = true;
    auto built = build(a);
    auto b = runner_b();
    b.cache_from = {"registry.test/app:inline"};
    b.cache_to = {"type=inline"};
    b.tags = {"registry.test/app:again"};
    b.push = true;
    auto rebuilt = build(b);
    EXPECT_EQ(rebuilt.steps_cached, 3u) << warnings();
    EXPECT_EQ(rebuilt.steps_run, 0u);
    // The same records in the same order: the same image.
    EXPECT_EQ(rebuilt.pushed_digest, built.pushed_digest);
}

TEST_F(SharedCache, ALayoutMissingABlobCostsOnlyThatHit) {
    const fs::path dir = tmp_.path() / "cache-dir";
    auto a = runner_a();
    a.cache_to = {"type=local,mode=max,dest=" + dir.string()};
    build(a);
    auto index = nlohmann::json::parse(read_file(dir / "index.json"));
    auto manifest = nlohmann::json::parse(read_file(
        dir / "blobs/sha256" /
        index["manifests"][0]["digest"].get<std::string>().substr(std::string("sha256:").size())));
    // Layers come in the order of the steps: the last is RUN make-app's.
    const std::string lost = manifest["layers"].back()["digest"];
    fs::remove(dir / "blobs/sha256" / lost.substr(std::string("sha256:").size()));
    auto b = runner_b();
    b.cache_from = {"type=local,src=" + dir.string()};
    auto r = build(b);  // no failure: the step whose layer is gone runs again
    EXPECT_EQ(r.steps_run, 1u) << warnings();
    EXPECT_EQ(r.steps_cached, 4u);  // tools' two steps and the final stage's two COPYs
}

TEST_F(SharedCache, ALayerTheRegistryLostFailsTheStepThatNeedsItNamingTheCache) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=max"};
    build(a);
    auto m = nlohmann::json::parse(registry_->manifests["app"]["cache"].bytes);
    registry_->blobs["app"].erase(m["layers"].back()["digest"].get<std::string>());
    exec_.on("more", Script{});
    auto b = runner_b(std::string(kTwoStages) + "RUN more\n");
    b.cache_from = {"registry.test/app:cache"};
    try {
        build(b);
        FAIL() << "RUN more needs the lost layer";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("Dockerfile:8: RUN failed: cannot fetch layer sha256:", 0), 0u) << msg;
        EXPECT_NE(msg.find("from registry.test/app"), std::string::npos) << msg;
    }
}

TEST_F(SharedCache, NoCacheFilterRunsTheStageEvenWhenOnlyHitsReadIt) {
    build(runner_a());
    const size_t ran = runs();
    auto again = runner_a();
    again.no_cache_stages = {"tools"};
    auto r = build(again);
    EXPECT_EQ(r.steps_run, 2u) << "tools' COPY and RUN";
    EXPECT_EQ(r.steps_cached, 3u);
    EXPECT_EQ(runs(), ran + 1) << "make-tool ran again";
}

TEST_F(SharedCache, AMissingSourceIsAWarningAndTheBuildGoesOn) {
    auto b = runner_b();
    b.cache_from = {"registry.test/nothing:here",
                    "type=local,src=" + (tmp_.path() / "none").string()};
    auto r = build(b);
    EXPECT_EQ(r.steps_run, 5u);
    EXPECT_TRUE(warned("cache import from registry.test/nothing:here")) << warnings();
    EXPECT_TRUE(warned("cache import from " + (tmp_.path() / "none").string())) << warnings();
}

TEST_F(SharedCache, AFailingExportFailsTheBuildUnlessIgnored) {
    // A file where the layout directory should be.
    std::ofstream(tmp_.path() / "blocked") << "x";
    const std::string dest = (tmp_.path() / "blocked" / "cache").string();
    auto a = runner_a();
    a.cache_to = {"type=local,dest=" + dest};
    try {
        build(a);
        FAIL() << "export to " << dest << " should fail";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cache export to " + dest), std::string::npos)
            << e.what();
    }
    a.cache_to = {"type=local,dest=" + dest + ",ignore-error=true"};
    EXPECT_NO_THROW(build(a));
    EXPECT_TRUE(warned("cache export to " + dest)) << warnings();
}

TEST_F(SharedCache, ABadSpecIsRefusedBeforeAnyWork) {
    auto a = runner_a();
    a.cache_to = {"type=gha"};
    EXPECT_THROW(build(a), Error);
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=most"};
    EXPECT_THROW(build(a), Error);
    EXPECT_EQ(runs(), 0u);
}

TEST_F(SharedCache, ExplainCacheNamesTheEditedFile) {
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=max"};
    build(a);
    context_file("app.txt", "app v2\n");
    auto b = runner_b();
    b.cache_from = {"registry.test/app:cache"};
    b.explain_cache = true;
    auto r = build(b);
    EXPECT_EQ(r.steps_run, 2u);  // COPY app.txt and the RUN after it
    EXPECT_TRUE(
        warned("explain-cache: [stage-1 2/3] COPY app.txt /app/: context files changed: "
               "app.txt (content)"))
        << warnings();
    EXPECT_TRUE(warned("explain-cache: [stage-1 3/3] RUN make-app: the step before it"))
        << warnings();
}

TEST_F(SharedCache, KeysDoNotDependOnTheCheckoutsOwner) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to give the checkout another owner";
    auto a = runner_a();
    a.cache_to = {"type=registry,ref=registry.test/app:cache,mode=max"};
    build(a);
    auto b = runner_b();
    for (const auto& e : fs::directory_iterator(b.context)) {
        ASSERT_EQ(::chown(e.path().c_str(), 4242, 4242), 0);
    }
    b.cache_from = {"registry.test/app:cache"};
    EXPECT_EQ(build(b).steps_run, 0u) << warnings();
}

}  // namespace
}  // namespace kiln::build
