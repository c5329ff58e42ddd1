// kiln and image indexes, Docker schema 2 images, `build --pull` and registry
// errors, against a real registry (the fixture's docker-registry on loopback).
// The images are made by kiln, assembled and pushed by skopeo (an independent
// client), and what kiln pulls is checked with skopeo and kiln's own outputs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "content/digest.h"
#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// Go's name for this machine's architecture, or "" when the tests do not know it.
std::string host_arch() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64")
        return "amd64";
    if (m == "aarch64")
        return "arm64";
    return "";
}

class RegistryIndex : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
            GTEST_SKIP() << *why;
        reg = std::make_unique<RegistryFixture>(RegistryMode::plain);
        env = {{"DOCKER_CONFIG", reg->docker_config_dir().string()}};
    }

    // A one-file image from scratch: FROM [--platform=P] scratch, COPY FILE.
    fs::path context(const std::string& name, const std::string& file, const std::string& text,
                     const std::string& platform = "") {
        const fs::path ctx = dir / ("ctx-" + name);
        write(ctx / "Dockerfile", "FROM " +
                                      (platform.empty() ? "" : "--platform=" + platform + " ") +
                                      "scratch\nCOPY " + file + " /" + file + "\n");
        write(ctx / file, text);
        return ctx;
    }

    // kiln builds CTX into an OCI layout directory; returns the layout's one manifest.
    json build_oci(const fs::path& ctx, const fs::path& layout) {
        auto r = run_kiln(dir / "builder",
                          {"build", "-o", "type=oci,dest=" + layout.string(), ctx.string()});
        EXPECT_EQ(r.exit_code, 0) << joined(r);
        auto index = json::parse(slurp(layout / "index.json"));
        EXPECT_EQ(index.at("manifests").size(), 1u) << index.dump();
        return index.at("manifests").at(0);
    }

    json manifest_in(const fs::path& layout, const std::string& digest) {
        return json::parse(slurp(layout / "blobs/sha256" / digest.substr(7)));
    }

    // skopeo copy ARGS… (plain http destination and source).
    Result skopeo_copy(const std::vector<std::string>& args) {
        std::vector<std::string> a{"skopeo", "copy", "--src-tls-verify=false",
                                   "--dest-tls-verify=false"};
        a.insert(a.end(), args.begin(), args.end());
        return run(a);
    }

    Result skopeo_inspect(const std::string& ref, bool raw = false) {
        std::vector<std::string> a{"skopeo", "inspect", "--tls-verify=false"};
        if (raw)
            a.push_back("--raw");
        a.push_back(ref);
        return run(a);
    }

    std::unique_ptr<RegistryFixture> reg;
    std::map<std::string, std::string> env;
    Scratch dir;
};

// What the multi-platform test pushed.
struct MultiImage {
    std::string index_digest;
    std::string amd64_manifest;
    std::string arm64_manifest;
};

class RegistryIndexPlatforms : public RegistryIndex {
  protected:
    // Two kiln images (amd64 and arm64) in one OCI layout under an image index,
    // pushed by skopeo as HOST/multi:1.
    MultiImage push_multi() {
        MultiImage out;
        const fs::path amd = dir / "oci-amd64", arm = dir / "oci-arm64";
        auto amd_desc =
            build_oci(context("amd64", "arch.txt", "amd64\n", "linux/amd64"), dir / "oci-amd64");
        auto arm_desc =
            build_oci(context("arm64", "arch.txt", "arm64\n", "linux/arm64"), dir / "oci-arm64");
        if (HasFailure())
            return out;
        // kiln wrote the platform FROM --platform asked for into each config.
        for (auto [layout, desc, arch] :
             {std::tuple{amd, amd_desc, "amd64"}, std::tuple{arm, arm_desc, "arm64"}}) {
            auto m = manifest_in(layout, desc.at("digest"));
            auto config =
                json::parse(slurp(layout / "blobs/sha256" /
                                  m.at("config").at("digest").get<std::string>().substr(7)));
            EXPECT_EQ(config.value("architecture", ""), arch) << config.dump();
            EXPECT_EQ(config.value("os", ""), "linux") << config.dump();
        }
        out.amd64_manifest = amd_desc.at("digest");
        out.arm64_manifest = arm_desc.at("digest");

        // One layout holding both images' blobs and an index naming them.
        const fs::path multi = dir / "oci-multi";
        fs::create_directories(multi / "blobs/sha256");
        for (const auto& layout : {amd, arm})
            for (auto& e : fs::directory_iterator(layout / "blobs/sha256"))
                fs::copy_file(e.path(), multi / "blobs/sha256" / e.path().filename(),
                              fs::copy_options::skip_existing);
        auto entry = [](json desc, json platform) {
            json d{{"mediaType", desc.at("mediaType")},
                   {"digest", desc.at("digest")},
                   {"size", desc.at("size")},
                   {"platform", platform}};
            return d;
        };
        json index{
            {"schemaVersion", 2},
            {"mediaType", kOciIndex},
            {"manifests",
             {entry(amd_desc, {{"architecture", "amd64"}, {"os", "linux"}}),
              entry(arm_desc, {{"architecture", "arm64"}, {"os", "linux"}, {"variant", "v8"}})}}};
        const std::string index_bytes = index.dump();
        const auto index_digest = kiln::content::Digest::of(index_bytes);
        write(multi / "blobs/sha256" / std::string(index_digest.hex()), index_bytes);
        json layout_index{{"schemaVersion", 2},
                          {"manifests",
                           {{{"mediaType", kOciIndex},
                             {"digest", index_digest.str()},
                             {"size", index_bytes.size()},
                             {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}}}}};
        write(multi / "index.json", layout_index.dump());
        write(multi / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");

        auto c = skopeo_copy({"--all", "--preserve-digests", "oci:" + multi.string() + ":multi",
                              reg->skopeo_ref("multi:1")});
        EXPECT_EQ(c.exit_code, 0) << joined(c);
        auto raw = skopeo_inspect(reg->skopeo_ref("multi:1"), true);
        EXPECT_EQ(raw.exit_code, 0) << joined(raw);
        if (raw.exit_code == 0) {
            EXPECT_EQ(kiln::content::Digest::of(raw.out).str(), index_digest.str())
                << "the registry serves the index as written";
            EXPECT_EQ(json::parse(raw.out).value("mediaType", ""), kOciIndex);
        }
        out.index_digest = index_digest.str();
        return out;
    }

    std::string image_arch(const fs::path& root, const std::string& name) {
        auto r = run({"skopeo", "inspect", "--config", "oci:" + root.string() + ":" + name});
        EXPECT_EQ(r.exit_code, 0) << joined(r);
        return r.exit_code == 0 ? json::parse(r.out).value("architecture", "") : "";
    }
};

}  // namespace

TEST_F(RegistryIndexPlatforms, PullChoosesThePlatformFromAnIndex) {
    if (host_arch() != "amd64")
        GTEST_SKIP() << "the default-platform checks assume an amd64 host";
    const MultiImage multi = push_multi();
    ASSERT_FALSE(HasFailure());
    const std::string name = reg->host() + "/multi:1";

    // --platform linux/arm64: the arm64 entry; Digest: is the index's.
    auto arm = run_kiln(dir / "root-arm", {"pull", "--platform", "linux/arm64", name}, env);
    ASSERT_EQ(arm.exit_code, 0) << joined(arm);
    EXPECT_NE(arm.out.find("Digest: " + multi.index_digest), std::string::npos) << arm.out;
    auto inspect = run_kiln(dir / "root-arm", {"inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    auto info = json::parse(inspect.out);
    EXPECT_EQ(info.at("Config").value("architecture", ""), "arm64") << inspect.out;
    EXPECT_EQ(info.at("Digest"), multi.arm64_manifest) << inspect.out;
    EXPECT_EQ(image_arch(dir / "root-arm", name), "arm64");

    // No --platform: the host's (amd64) entry.
    auto amd = run_kiln(dir / "root-default", {"pull", name}, env);
    ASSERT_EQ(amd.exit_code, 0) << joined(amd);
    EXPECT_NE(amd.out.find("Digest: " + multi.index_digest), std::string::npos) << amd.out;
    EXPECT_EQ(image_arch(dir / "root-default", name), "amd64");
    auto amd_inspect = run_kiln(dir / "root-default", {"inspect", name});
    ASSERT_EQ(amd_inspect.exit_code, 0) << joined(amd_inspect);
    EXPECT_EQ(json::parse(amd_inspect.out).at("Digest"), multi.amd64_manifest);

    // A platform the index lacks: one line naming it, nothing stored.
    auto s390 = run_kiln(dir / "root-s390x", {"pull", "--platform", "linux/s390x", name}, env);
    EXPECT_EQ(s390.exit_code, 1) << joined(s390);
    EXPECT_NE(s390.err.find("linux/s390x"), std::string::npos) << s390.err;
    EXPECT_EQ(lines(s390.err), 1u) << "one line: " << s390.err;
    auto images = run_kiln(dir / "root-s390x", {"images"});
    EXPECT_EQ(images.out.find("multi"), std::string::npos) << images.out;

    // FROM the index in a build takes the host's entry.
    write(dir / "from-multi/Dockerfile", "FROM " + name + "\n");
    auto b = run_kiln(
        dir / "root-build",
        {"build", "-o", "type=local,dest=" + (dir / "out").string(), (dir / "from-multi").string()},
        env);
    ASSERT_EQ(b.exit_code, 0) << joined(b);
    EXPECT_EQ(slurp(dir / "out/arch.txt"), "amd64\n");

    // FROM --platform takes that platform's entry, even over the host's
    // image the store already holds under the name.
    write(dir / "from-arm/Dockerfile", "FROM --platform=linux/arm64 " + name + "\n");
    auto from_arm = run_kiln(dir / "root-build",
                             {"build", "-o", "type=local,dest=" + (dir / "out-arm").string(),
                              (dir / "from-arm").string()},
                             env);
    ASSERT_EQ(from_arm.exit_code, 0) << joined(from_arm);
    EXPECT_EQ(slurp(dir / "out-arm/arch.txt"), "arm64\n");
}

TEST_F(RegistryIndexPlatforms, PullsOfTwoPlatformsKeepBothUnderTheName) {
    if (host_arch() != "amd64")
        GTEST_SKIP() << "the default-platform checks assume an amd64 host";
    const MultiImage multi = push_multi();
    ASSERT_FALSE(HasFailure());
    const std::string name = reg->host() + "/multi:1";
    const fs::path root = dir / "root";
    ASSERT_EQ(run_kiln(root, {"pull", name}, env).exit_code, 0);
    auto arm = run_kiln(root, {"pull", "--platform", "linux/arm64", name}, env);
    ASSERT_EQ(arm.exit_code, 0) << joined(arm);

    // The name now holds an index of both, which skopeo reads from the store.
    auto raw = run({"skopeo", "inspect", "--raw", "oci:" + root.string() + ":" + name});
    ASSERT_EQ(raw.exit_code, 0) << joined(raw);
    auto index = json::parse(raw.out);
    ASSERT_EQ(index.at("manifests").size(), 2u) << raw.out;
    EXPECT_EQ(index["manifests"][0]["digest"], multi.amd64_manifest) << raw.out;
    EXPECT_EQ(index["manifests"][1]["digest"], multi.arm64_manifest) << raw.out;
    auto images = run_kiln(root, {"images"});
    EXPECT_NE(images.out.find("linux/amd64,linux/arm64"), std::string::npos) << images.out;

    // Pulling a platform again is up to date; the host's entry still serves a
    // build without --platform, arm64's a build for it, with no pull.
    auto again = run_kiln(root, {"pull", name}, env);
    EXPECT_NE(again.out.find("up to date"), std::string::npos) << joined(again);
    reg.reset();  // nothing more comes from the registry
    write(dir / "from-multi/Dockerfile", "FROM " + name + "\n");
    auto host = run_kiln(root, {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                (dir / "from-multi").string()});
    ASSERT_EQ(host.exit_code, 0) << joined(host);
    EXPECT_EQ(slurp(dir / "out/arch.txt"), "amd64\n");
    auto both = run_kiln(
        root, {"build", "--platform", "linux/arm64,linux/amd64", "-o",
               "type=local,dest=" + (dir / "both").string(), (dir / "from-multi").string()});
    ASSERT_EQ(both.exit_code, 0) << joined(both);
    EXPECT_EQ(slurp(dir / "both/linux_arm64/arch.txt"), "arm64\n");
    EXPECT_EQ(slurp(dir / "both/linux_amd64/arch.txt"), "amd64\n");
}

TEST_F(RegistryIndex, DockerSchema2ImagesPullAndPushUnchanged) {
    // kiln's image, converted to Docker media types and pushed by skopeo.
    auto desc = build_oci(context("v2s2", "hello.txt", "docker media types\n"), dir / "oci");
    ASSERT_FALSE(HasFailure());
    auto c = skopeo_copy(
        {"--format", "v2s2", "oci:" + (dir / "oci").string(), reg->skopeo_ref("docker/app:1")});
    ASSERT_EQ(c.exit_code, 0) << joined(c);
    auto remote = skopeo_inspect(reg->skopeo_ref("docker/app:1"));
    ASSERT_EQ(remote.exit_code, 0) << joined(remote);
    const std::string digest = json::parse(remote.out).at("Digest");
    auto raw = skopeo_inspect(reg->skopeo_ref("docker/app:1"), true);
    ASSERT_EQ(raw.exit_code, 0) << joined(raw);
    ASSERT_EQ(json::parse(raw.out).value("mediaType", ""), kDockerManifest) << raw.out;
    EXPECT_NE(digest, desc.at("digest").get<std::string>()) << "skopeo converted the manifest";

    const std::string name = reg->host() + "/docker/app:1";
    auto p = run_kiln(dir / "root", {"pull", name}, env);
    ASSERT_EQ(p.exit_code, 0) << joined(p);
    EXPECT_NE(p.out.find("Digest: " + digest), std::string::npos) << p.out;
    // The store names the registry's manifest bytes as they were served. (skopeo 1.9's
    // oci: transport skips index.json entries with Docker media types, so it cannot
    // read this image from the store; the layout is read directly here.)
    json entry;
    const json store_index = json::parse(slurp(dir / "root/index.json"));
    for (const auto& m : store_index.at("manifests"))
        if (m.contains("annotations") &&
            m["annotations"].value("org.opencontainers.image.ref.name", "") == name)
            entry = m;
    ASSERT_TRUE(entry.is_object()) << slurp(dir / "root/index.json");
    EXPECT_EQ(entry.value("digest", ""), digest);
    EXPECT_EQ(entry.value("mediaType", ""), kDockerManifest);
    EXPECT_EQ(slurp(dir / "root/blobs/sha256" / digest.substr(7)), raw.out);
    auto inspect = run_kiln(dir / "root", {"inspect", name});
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    EXPECT_EQ(json::parse(inspect.out).at("Manifest").value("mediaType", ""), kDockerManifest);

    // Pushed elsewhere as it is: same bytes, same digest, still Docker media types.
    auto push = run_kiln(dir / "root", {"push", name, reg->host() + "/docker/copy:2"}, env);
    ASSERT_EQ(push.exit_code, 0) << joined(push);
    EXPECT_EQ(pushed_digest(push.out), digest) << push.out;
    auto copied = skopeo_inspect(reg->skopeo_ref("docker/copy:2"));
    ASSERT_EQ(copied.exit_code, 0) << joined(copied);
    EXPECT_EQ(json::parse(copied.out).at("Digest"), digest);
    auto copied_raw = skopeo_inspect(reg->skopeo_ref("docker/copy:2"), true);
    ASSERT_EQ(copied_raw.exit_code, 0) << joined(copied_raw);
    EXPECT_EQ(copied_raw.out, raw.out);

    // And a build FROM it sees its file.
    write(dir / "from/Dockerfile", "FROM " + name + "\n");
    auto b = run_kiln(
        dir / "root",
        {"build", "-o", "type=local,dest=" + (dir / "out").string(), (dir / "from").string()}, env);
    ASSERT_EQ(b.exit_code, 0) << joined(b);
    EXPECT_EQ(slurp(dir / "out/hello.txt"), "docker media types\n");
}

TEST_F(RegistryIndex, BuildPullRefreshesABaseWhoseTagMoved) {
    const std::string base = reg->host() + "/base:1";
    auto push_base = [&](const std::string& text, const std::string& tag_dir) {
        auto r = run_kiln(
            dir / "publisher",
            {"build", "--push", "-t", base, context(tag_dir, "base.txt", text).string()}, env);
        EXPECT_EQ(r.exit_code, 0) << joined(r);
    };
    push_base("old base\n", "v1");
    ASSERT_FALSE(HasFailure());

    write(dir / "app/Dockerfile", "FROM " + base + "\nCOPY app.txt /app.txt\n");
    write(dir / "app/app.txt", "app\n");
    auto build = [&](const std::string& out, bool pull) {
        std::vector<std::string> args{"build"};
        if (pull)
            args.push_back("--pull");
        for (const auto& a :
             {std::string("-o"), "type=local,dest=" + (dir / out).string(), (dir / "app").string()})
            args.push_back(a);
        auto r = run_kiln(dir / "root", args, env);
        EXPECT_EQ(r.exit_code, 0) << joined(r);
        return slurp(dir / out / "base.txt");
    };
    EXPECT_EQ(build("out1", false), "old base\n") << "the first build pulls the base";

    push_base("new base\n", "v2");
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(build("out2", false), "old base\n") << "without --pull, the store's base is used";
    EXPECT_EQ(build("out3", true), "new base\n") << "--pull fetches the tag again";
    EXPECT_EQ(slurp(dir / "out3/app.txt"), "app\n");
    auto remote = skopeo_inspect(reg->skopeo_ref("base:1"));
    ASSERT_EQ(remote.exit_code, 0) << joined(remote);
    auto local = run_kiln(dir / "root", {"inspect", base});
    ASSERT_EQ(local.exit_code, 0) << joined(local);
    EXPECT_EQ(json::parse(local.out).at("Digest"), json::parse(remote.out).at("Digest"))
        << "the store's base:1 is the new one";
}

TEST_F(RegistryIndex, ErrorsNameTheRegistryRepositoryAndReference) {
    // A repository the registry does not have.
    auto missing = run_kiln(dir / "root", {"pull", reg->host() + "/nothere:1"}, env);
    EXPECT_EQ(missing.exit_code, 1) << joined(missing);
    EXPECT_NE(missing.err.find(reg->host()), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("nothere"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
    EXPECT_EQ(lines(missing.err), 1u) << "one line: " << missing.err;

    // A malformed reference.
    auto bad = run_kiln(dir / "root", {"pull", "Bad:Ref"}, env);
    EXPECT_EQ(bad.exit_code, 1) << joined(bad);
    EXPECT_NE(bad.err.find("invalid reference"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("Bad:Ref"), std::string::npos) << bad.err;
    EXPECT_EQ(lines(bad.err), 1u) << "one line: " << bad.err;

    // Pushing what the store does not have.
    auto absent = run_kiln(dir / "root", {"push", reg->host() + "/absent:1"}, env);
    EXPECT_EQ(absent.exit_code, 1) << joined(absent);
    EXPECT_NE(absent.err.find(reg->host() + "/absent:1"), std::string::npos) << absent.err;
    EXPECT_NE(absent.err.find("no such image"), std::string::npos) << absent.err;
    EXPECT_EQ(lines(absent.err), 1u) << "one line: " << absent.err;

    // Nothing listening: retried briefly, then an error naming the host.
    const std::string nobody = "127.0.0.1:" + std::to_string(free_loopback_port());
    auto refused = run_kiln(dir / "root", {"pull", nobody + "/app:1"},
                            {{"KILN_REGISTRY_RETRY_BASE_MS", "1"},
                             {"DOCKER_CONFIG", reg->docker_config_dir().string()}});
    EXPECT_EQ(refused.exit_code, 1) << joined(refused);
    EXPECT_NE(refused.err.find(nobody), std::string::npos) << refused.err;
    EXPECT_EQ(lines(refused.err), 1u) << "one line: " << refused.err;

    auto images = run_kiln(dir / "root", {"images"});
    EXPECT_EQ(images.exit_code, 0) << joined(images);
    EXPECT_EQ(images.out.find("nothere"), std::string::npos) << images.out;
}
