// kiln through a fault-injecting proxy in front of a real registry: dropped
// connections, 5xx, 429 and truncated or corrupted bodies. Pushes and pulls of
// a 50 MB image must complete with the right digests; a blob that is always
// corrupted must fail the pull, naming it, and leave nothing in the store.
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

class RegistryFaults : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
            GTEST_SKIP() << *why;
        if (auto why = FaultProxy::missing_tools())
            GTEST_SKIP() << *why;
        // Two 25 MB layers and a small one: uploads go in chunks, downloads in parallel.
        write(dir / "app/Dockerfile",
              "FROM scratch\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nCOPY small.txt /small.txt\n");
        write_random(dir / "app/a.bin", 25 << 20, 1);
        write_random(dir / "app/b.bin", 25 << 20, 2);
        write(dir / "app/small.txt", "small\n");
    }
    Scratch dir;
};

// The committed snapshots under `root` (any kind) whose own tree holds `file`.
std::vector<fs::path> snapshots_holding(const fs::path& root, const std::string& file) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (auto& kind : fs::directory_iterator(root / "snapshots", ec))
        for (auto& snap : fs::directory_iterator(kind.path(), ec))
            if (fs::exists(snap.path() / "fs" / file))
                found.push_back(snap.path() / "fs" / file);
    return found;
}

}  // namespace

TEST_F(RegistryFaults, PushAndPullOf50MBSurviveAFlakyRegistry) {
    RegistryFixture reg(RegistryMode::plain);
    FaultOptions faults;
    faults.seed = 7;
    faults.status_rate = 0.08;
    faults.rate_429 = 0.05;
    faults.drop_rate = 0.05;
    faults.truncate_rate = 0.05;
    FaultProxy proxy(reg, faults);
    std::map<std::string, std::string> env{{"DOCKER_CONFIG", proxy.docker_config_dir().string()}};

    const std::string name = proxy.host() + "/kiln/big:1";
    auto b = run_kiln(dir / "root", {"build", "--push", "-t", name, (dir / "app").string()}, env);
    ASSERT_EQ(b.exit_code, 0) << joined(b) << "\nproxy:\n" << proxy.log();
    const std::string digest = pushed_digest(b.err);
    ASSERT_EQ(digest.size(), 71u) << b.err;

    // Straight from the registry (no proxy): what kiln pushed is whole.
    auto inspect = run({"skopeo", "inspect", "--tls-verify=false", reg.skopeo_ref("kiln/big:1")});
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    EXPECT_EQ(json::parse(inspect.out).at("Digest"), digest);
    auto copy = run({"skopeo", "copy", "--src-tls-verify=false", reg.skopeo_ref("kiln/big:1"),
                     "oci:" + (dir / "copied").string() + ":t"});
    ASSERT_EQ(copy.exit_code, 0) << joined(copy) << "(skopeo verifies every blob's digest)";

    EXPECT_GT(proxy.faults(), 3) << proxy.stats().dump();

    // Pull through a proxy that cuts blob downloads short often: resumed with Range.
    FaultOptions cuts;
    cuts.seed = 11;
    cuts.path_regex = "/blobs/";
    cuts.drop_rate = 0.3;
    cuts.truncate_rate = 0.2;
    cuts.status_rate = 0.05;
    FaultProxy pull_proxy(reg, cuts);
    const std::string pull_name = pull_proxy.host() + "/kiln/big:1";
    auto p = run_kiln(dir / "fresh", {"pull", pull_name}, env);
    ASSERT_EQ(p.exit_code, 0) << joined(p) << "\nproxy:\n" << pull_proxy.log();
    EXPECT_NE(p.out.find("Digest: " + digest), std::string::npos) << p.out;
    EXPECT_GT(pull_proxy.faults("drop") + pull_proxy.faults("truncate"), 0)
        << pull_proxy.stats().dump();
    // Unpacked while it downloaded, through the cuts: each layer's snapshot is
    // there before any build, with the bytes that were pushed.
    for (const char* f : {"a.bin", "b.bin", "small.txt"}) {
        auto held = snapshots_holding(dir / "fresh", f);
        ASSERT_EQ(held.size(), 1u) << f;
        EXPECT_EQ(slurp(held[0]), slurp(dir / "app" / f)) << f;
    }

    // And the pulled image is the pushed one, file for file.
    write(dir / "check/Dockerfile", "FROM " + pull_name + "\n");
    auto out = run_kiln(
        dir / "fresh",
        {"build", "-o", "type=local,dest=" + (dir / "out").string(), (dir / "check").string()},
        env);
    ASSERT_EQ(out.exit_code, 0) << joined(out);
    EXPECT_EQ(slurp(dir / "out/a.bin"), slurp(dir / "app/a.bin"));
    EXPECT_EQ(slurp(dir / "out/b.bin"), slurp(dir / "app/b.bin"));
}

TEST_F(RegistryFaults, CorruptedBlobsAreCaughtByDigestAndNothingIsKept) {
    RegistryFixture reg(RegistryMode::plain);
    // Push straight to the registry, then pull through a proxy that
    // corrupts every blob body it serves.
    write(dir / "app/Dockerfile", "FROM scratch\nCOPY small.txt /small.txt\n");
    std::map<std::string, std::string> env;
    auto b = run_kiln(
        dir / "root",
        {"build", "--push", "-t", reg.host() + "/kiln/small:1", (dir / "app").string()}, env);
    ASSERT_EQ(b.exit_code, 0) << joined(b);

    FaultOptions faults;
    faults.corrupt_blob_rate = 1.0;
    FaultProxy proxy(reg, faults);
    auto p = run_kiln(dir / "fresh", {"pull", proxy.host() + "/kiln/small:1"}, env);
    EXPECT_EQ(p.exit_code, 1) << joined(p);
    EXPECT_NE(p.err.find("registry " + proxy.host()), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("kiln/small"), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("digest mismatch"), std::string::npos) << p.err;
    EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << "one line: " << p.err;
    EXPECT_GT(proxy.faults("corrupt"), 0);

    auto images = run_kiln(dir / "fresh", {"images"});
    EXPECT_EQ(images.out.find("kiln/small"), std::string::npos) << images.out;
    EXPECT_TRUE(snapshots_holding(dir / "fresh", "small.txt").empty())
        << "a layer that did not verify was unpacked";
    // No blob under blobs/ is anything but what its name says.
    EXPECT_EQ(blobs_not_their_names(dir / "fresh"), std::vector<std::string>{});
    // The next pull, straight from the registry, works.
    auto again = run_kiln(dir / "fresh", {"pull", reg.host() + "/kiln/small:1"}, env);
    EXPECT_EQ(again.exit_code, 0) << joined(again);
}

TEST_F(RegistryFaults, ARegistryThatKeepsFailingEndsWithAnErrorNamingIt) {
    RegistryFixture reg(RegistryMode::plain);
    FaultOptions faults;
    faults.status_rate = 1.0;
    faults.status_codes = {503};
    FaultProxy proxy(reg, faults);
    auto p = run_kiln(dir / "fresh", {"pull", proxy.host() + "/kiln/nothing:1"},
                      {{"KILN_REGISTRY_RETRY_BASE_MS", "10"}});
    EXPECT_EQ(p.exit_code, 1) << joined(p);
    EXPECT_NE(p.err.find("registry " + proxy.host()), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("503"), std::string::npos) << p.err;
    EXPECT_GE(proxy.faults(), 3) << "kiln retried";
}
