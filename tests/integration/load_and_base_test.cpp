// kiln load brings images in from archives other tools wrote; FROM <image>
// builds on them.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

// A base image made by kiln into a docker-archive, then re-written by skopeo
// (an independent producer) into an OCI layout tar.
class LoadAndBase : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "base/Dockerfile",
              "FROM scratch\nCOPY base.txt /etc/base.txt\nENV FOO=bar\nWORKDIR /w\n"
              "CMD [\"sh\"]\nONBUILD COPY trigger.txt /trigger.txt\n");
        write(dir / "base/base.txt", "base\n");
        auto r = run_kiln(dir / "root1", {"build", "-t", "base:1", "-o",
                                          "type=docker,dest=" + (dir / "base.tar").string(),
                                          (dir / "base").string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        auto c = run({"skopeo", "copy", "docker-archive:" + (dir / "base.tar").string(),
                      "oci-archive:" + (dir / "base-oci.tar").string() + ":1"});
        ASSERT_EQ(c.exit_code, 0) << c.err;
    }
    Scratch dir;
    // Docker Hub mapped to a closed loopback port: tests never reach the internet.
    const std::map<std::string, std::string> no_hub = {{"KILN_DOCKER_IO_HOST", "127.0.0.1:1"},
                                                       {"KILN_REGISTRY_RETRY_BASE_MS", "1"}};
};

}  // namespace

TEST_F(LoadAndBase, LoadsDockerArchiveByItsName) {
    auto r = run_kiln(dir / "root2", {"load", "-i", (dir / "base.tar").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Loaded image: base:1"), std::string::npos) << r.out;
    auto cfg = json_of(
        run({"skopeo", "inspect", "--config", "oci:" + (dir / "root2").string() + ":base:1"}));
    EXPECT_EQ(cfg.at("config").at("WorkingDir"), "/w");
}

TEST_F(LoadAndBase, LoadsSkopeosOciArchiveUnderGivenName) {
    auto r =
        run_kiln(dir / "root2", {"load", "-i", (dir / "base-oci.tar").string(), "-t", "mine:2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto a = json_of(
        run({"skopeo", "inspect", "--config", "oci:" + (dir / "root2").string() + ":mine:2"}));
    auto b = json_of(
        run({"skopeo", "inspect", "--config", "docker-archive:" + (dir / "base.tar").string()}));
    EXPECT_EQ(a.at("rootfs"), b.at("rootfs")) << "layers must keep their diffIDs";
}

TEST_F(LoadAndBase, FromImageStartsFromItsConfigAndLayersAndRunsTriggers) {
    ASSERT_EQ(run_kiln(dir / "root2", {"load", "-i", (dir / "base.tar").string()}).exit_code, 0);
    write(dir / "app/Dockerfile", "FROM base:1\nCOPY app.txt app.txt\nENV BAR=$FOO\n");
    write(dir / "app/app.txt", "app\n");
    write(dir / "app/trigger.txt", "triggered\n");
    auto r = run_kiln(dir / "root2",
                      {"build", "-o", "type=oci,dest=" + (dir / "out").string() + ",name=app:1",
                       (dir / "app").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto cfg =
        json_of(run({"skopeo", "inspect", "--config", "oci:" + (dir / "out").string() + ":1"}));
    const auto& c = cfg.at("config");
    EXPECT_EQ(c.at("WorkingDir"), "/w");
    EXPECT_EQ(c.at("Cmd"), json({"sh"}));
    EXPECT_NE(std::find(c.at("Env").begin(), c.at("Env").end(), "BAR=bar"), c.at("Env").end()) << c;
    EXPECT_FALSE(c.contains("OnBuild")) << "triggers are not inherited";
    // base layer + trigger layer + app layer
    EXPECT_EQ(cfg.at("rootfs").at("diff_ids").size(),
              4u);  // base: COPY, WORKDIR; then trigger, app
    auto u = run(
        {"umoci", "unpack", "--image", (dir / "out").string() + ":1", (dir / "bundle").string()});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    EXPECT_EQ(slurp(dir / "bundle/rootfs/etc/base.txt"), "base\n");
    EXPECT_EQ(slurp(dir / "bundle/rootfs/trigger.txt"), "triggered\n");
    EXPECT_EQ(slurp(dir / "bundle/rootfs/w/app.txt"), "app\n");
}

TEST_F(LoadAndBase, UnknownBaseImageIsAClearError) {
    write(dir / "app/Dockerfile", "FROM nothere:1\nCOPY a /a\n");
    write(dir / "app/a", "a");
    // Not in the store, so kiln pulls it: from a "Docker Hub" that refuses.
    auto r = run_kiln(dir / "root2", {"build", (dir / "app").string()}, no_hub);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: Dockerfile:1: FROM nothere:1: cannot pull: registry docker.io: "
                         "library/nothere"),
              std::string::npos)
        << r.err;
}

TEST_F(LoadAndBase, ArchiveWithCorruptBlobNamesNothing) {
    // Rewrite one blob of the OCI archive with other bytes under the same name.
    auto x = dir / "x";
    fs::create_directories(x);
    ASSERT_EQ(run({"tar", "-xf", (dir / "base-oci.tar").string(), "-C", x.string()}).exit_code, 0);
    auto index = json::parse(slurp(x / "index.json"));
    std::string m = index.at("manifests")[0].at("digest");
    auto manifest = json::parse(slurp(x / "blobs/sha256" / m.substr(7)));
    std::string layer = manifest.at("layers")[0].at("digest");
    write(x / "blobs/sha256" / layer.substr(7), "not the layer");
    ASSERT_EQ(run({"tar", "-cf", (dir / "bad.tar").string(), "-C", x.string(), "."}).exit_code, 0);
    auto r = run_kiln(dir / "root3", {"load", "-i", (dir / "bad.tar").string(), "-t", "bad:1"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(layer.substr(7)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("digest mismatch"), std::string::npos) << r.err;
    auto images = run_kiln(dir / "root3", {"images"});
    EXPECT_EQ(images.out.find("bad:1"), std::string::npos) << images.out;
}

// A docker-archive whose second image's layer is not the one its config lists:
// the load fails and names neither image, not the first one that was whole.
TEST_F(LoadAndBase, AnArchiveWithOneBrokenImageNamesNone) {
    auto x = dir / "y";
    fs::create_directories(x);
    ASSERT_EQ(run({"tar", "-xf", (dir / "base.tar").string(), "-C", x.string()}).exit_code, 0);
    auto manifest = json::parse(slurp(x / "manifest.json"));
    ASSERT_EQ(manifest.size(), 1u);
    auto config = json::parse(slurp(x / manifest[0].at("Config").get<std::string>()));
    config["rootfs"]["diff_ids"][0] = "sha256:" + std::string(64, '0');
    write(x / "bad-config.json", config.dump());
    auto second = manifest[0];
    second["Config"] = "bad-config.json";
    second["RepoTags"] = {"other:2"};
    manifest.push_back(second);
    write(x / "manifest.json", manifest.dump());
    ASSERT_EQ(run({"tar", "-cf", (dir / "two.tar").string(), "-C", x.string(), "."}).exit_code, 0);
    auto r = run_kiln(dir / "root4", {"load", "-i", (dir / "two.tar").string()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(std::string(64, '0')), std::string::npos) << r.err;
    auto images = run_kiln(dir / "root4", {"images"});
    EXPECT_EQ(images.out.find("base"), std::string::npos) << images.out;
    EXPECT_EQ(images.out.find("other"), std::string::npos) << images.out;
}

// Found by archive_import_fuzzer: an archive on which libarchive fails without a message
// crashed kiln load (a null string appended). It is a one-line error now, naming nothing
// in the store.
TEST_F(LoadAndBase, AnArchiveLibarchiveFailsOnSilentlyIsAClearError) {
    const std::string input =
        std::string(KILN_TESTDATA_DIR) + "/fuzz/archives/crash-null-error-message.tar.gz";
    auto r = run_kiln(dir / "root5", {"load", "-i", input});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err, "error: cannot read " + input + ": malformed archive\n");
    EXPECT_EQ(run_kiln(dir / "root5", {"images"}).out.find("sha256"), std::string::npos);
}

TEST_F(LoadAndBase, CopyFromAnImageInTheStore) {
    ASSERT_EQ(run_kiln(dir / "root2", {"load", "-i", (dir / "base.tar").string()}).exit_code, 0);
    write(dir / "app/Dockerfile", "FROM scratch\nCOPY --from=base:1 /etc/base.txt /got.txt\n");
    auto r = run_kiln(dir / "root2", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                      (dir / "app").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(slurp(dir / "out/got.txt"), "base\n");
    write(dir / "app/Dockerfile", "FROM scratch\nCOPY --from=nothere:1 /x /x\n");
    r = run_kiln(dir / "root2", {"build", (dir / "app").string()}, no_hub);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("Dockerfile:2: COPY --from=nothere:1: no such stage, and cannot pull"),
              std::string::npos)
        << r.err;
}
