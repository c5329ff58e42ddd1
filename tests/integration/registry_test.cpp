// kiln against a real registry (Debian's docker-registry, started by the
// fixture on loopback): push and pull in every auth mode, checked with skopeo
// and umoci; Docker Hub-style names mapped to the fixture; credentials; bad
// registries.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <sstream>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

#define SKIP_UNLESS_REGISTRY(mode)                           \
    do {                                                     \
        if (auto why = RegistryFixture::missing_tools(mode)) \
            GTEST_SKIP() << *why;                            \
    } while (0)

// Places the fixture's CA where Docker (and kiln) look for a registry's CA,
// and takes it away again.
class InstalledCa {
  public:
    InstalledCa(const fs::path& certs_d, const RegistryFixture& reg) : dir_(certs_d / reg.host()) {
        fs::create_directories(dir_);
        fs::copy_file(reg.ca_cert(), dir_ / "ca.crt", fs::copy_options::overwrite_existing);
    }
    ~InstalledCa() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

  private:
    fs::path dir_;
};

class Registry : public ::testing::Test {
  protected:
    // A small image: busybox and a file, made by kiln from a context.
    void write_app(const std::string& text = "hello from the registry\n") {
        write(dir / "app/Dockerfile",
              "FROM scratch\nCOPY busybox /bin/busybox\nCOPY hello.txt /hello.txt\n"
              "CMD [\"/bin/busybox\", \"cat\", \"/hello.txt\"]\n");
        fs::copy_file(busybox_path(), dir / "app/busybox", fs::copy_options::overwrite_existing);
        write(dir / "app/hello.txt", text);
    }

    std::map<std::string, std::string> env_for(const RegistryFixture& reg) {
        return {{"DOCKER_CONFIG", reg.docker_config_dir().string()}};
    }

    // Builds and pushes HOST/REPO:TAG; returns the pushed digest.
    std::string build_and_push(const RegistryFixture& reg, const std::string& name,
                               const std::map<std::string, std::string>& env) {
        write_app();
        const auto meta = dir / "metadata.json";
        auto r = run_kiln(dir / "root",
                          {"build", "--push", "-t", name, "--metadata-file", meta.string(),
                           (dir / "app").string()},
                          env);
        EXPECT_EQ(r.exit_code, 0) << joined(r) << "\nregistry log:\n" << reg.registry_log();
        // The layers went up while they were compressed, not after.
        EXPECT_NE(r.err.find("pushed while compressed"), std::string::npos) << r.err;
        const std::string digest = pushed_digest_of_build(r);
        // As buildx: the metadata names the digest the registry has.
        if (r.exit_code == 0) {
            const auto m = json::parse(slurp(meta));
            EXPECT_EQ(m.at("containerimage.digest"), digest);
            EXPECT_EQ(m.at("containerimage.descriptor").at("digest"), digest) << m.dump();
            EXPECT_EQ(m.at("containerimage.descriptor").at("mediaType"),
                      "application/vnd.oci.image.manifest.v1+json");
            EXPECT_GT(m.at("containerimage.descriptor").at("size").get<int>(), 0) << m.dump();
        }
        return digest;
    }

    // `kiln build --push` prints the local image digest on stdout; the
    // pushed digest is in the progress lines on stderr.
    static std::string pushed_digest_of_build(const Result& r) { return pushed_digest(r.err); }

    // Round trip: skopeo sees the digest kiln pushed, copies the image out
    // and umoci unpacks it; kiln pulls it into a fresh root with the same digest.
    void check_round_trip(const RegistryFixture& reg, const std::string& repo_tag,
                          const std::string& digest,
                          const std::map<std::string, std::string>& env) {
        ASSERT_EQ(digest.size(), 71u);
        auto inspect = run([&] {
            std::vector<std::string> a{"skopeo", "inspect"};
            for (auto& x : reg.skopeo_args())
                a.push_back(x);
            a.push_back(reg.skopeo_ref(repo_tag));
            return a;
        }());
        ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
        EXPECT_EQ(json::parse(inspect.out).at("Digest"), digest);

        std::vector<std::string> copy{"skopeo", "copy"};
        for (auto& x : reg.skopeo_args(SkopeoRole::source))
            copy.push_back(x);
        copy.push_back(reg.skopeo_ref(repo_tag));
        copy.push_back("oci:" + (dir / "copied").string() + ":t");
        auto c = run(copy);
        ASSERT_EQ(c.exit_code, 0) << joined(c);
        auto u = run({"umoci", "unpack", "--image", (dir / "copied").string() + ":t",
                      (dir / "bundle").string()});
        ASSERT_EQ(u.exit_code, 0) << joined(u);
        EXPECT_EQ(slurp(dir / "bundle/rootfs/hello.txt"), "hello from the registry\n");

        auto p = run_kiln(dir / "fresh", {"pull", reg.host() + "/" + repo_tag}, env);
        ASSERT_EQ(p.exit_code, 0) << joined(p);
        EXPECT_NE(p.out.find("Digest: " + digest), std::string::npos) << p.out;
        auto local = run({"skopeo", "inspect",
                          "oci:" + (dir / "fresh").string() + ":" + reg.host() + "/" + repo_tag});
        ASSERT_EQ(local.exit_code, 0) << joined(local);
        EXPECT_EQ(json::parse(local.out).at("Digest"), digest);
    }

    Scratch dir;
};

}  // namespace

TEST_F(Registry, PushAndPullPlainHttp) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    auto digest = build_and_push(reg, reg.host() + "/kiln/app:1", env);
    check_round_trip(reg, "kiln/app:1", digest, env);
}

TEST_F(Registry, PushAndPullWithBasicAuth) {
    SKIP_UNLESS_REGISTRY(RegistryMode::basic);
    RegistryFixture reg(RegistryMode::basic);
    auto env = env_for(reg);
    auto digest = build_and_push(reg, reg.host() + "/kiln/app:1", env);
    check_round_trip(reg, "kiln/app:1", digest, env);
}

TEST_F(Registry, PushAndPullWithTlsFromCertsD) {
    SKIP_UNLESS_REGISTRY(RegistryMode::tls);
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to place a CA under /etc/docker/certs.d";
    RegistryFixture reg(RegistryMode::tls);
    InstalledCa ca("/etc/docker/certs.d", reg);
    auto env = env_for(reg);
    auto digest = build_and_push(reg, reg.host() + "/kiln/app:1", env);
    check_round_trip(reg, "kiln/app:1", digest, env);
}

TEST_F(Registry, TlsCaFromContainersCertsDAndRefusalWithoutIt) {
    SKIP_UNLESS_REGISTRY(RegistryMode::tls_basic);
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to place a CA under /etc/containers/certs.d";
    RegistryFixture reg(RegistryMode::tls_basic);
    auto env = env_for(reg);
    write_app();
    {
        // No CA: the certificate does not verify, and kiln says so.
        auto r = run_kiln(
            dir / "root",
            {"build", "--push", "-t", reg.host() + "/kiln/app:1", (dir / "app").string()}, env);
        EXPECT_EQ(r.exit_code, 1) << joined(r);
        EXPECT_NE(r.err.find(reg.host()), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("certificate"), std::string::npos) << r.err;
    }
    InstalledCa ca("/etc/containers/certs.d", reg);
    auto r = run_kiln(dir / "root", {"push", reg.host() + "/kiln/app:1"}, env);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    check_round_trip(reg, "kiln/app:1", pushed_digest(r.out), env);
}

TEST_F(Registry, PushAndPullWithBearerTokens) {
    SKIP_UNLESS_REGISTRY(RegistryMode::token);
    RegistryFixture reg(RegistryMode::token);
    auto env = env_for(reg);
    auto digest = build_and_push(reg, reg.host() + "/kiln/app:1", env);
    check_round_trip(reg, "kiln/app:1", digest, env);
    // kiln asked the token server for push and pull on the repository, with
    // the credentials from DOCKER_CONFIG.
    bool push_scope = false;
    for (const auto& req : reg.token_requests())
        if (req.dump().find("repository:kiln/app:pull,push") != std::string::npos &&
            !req.at("user").is_null())
            push_scope = true;
    EXPECT_TRUE(push_scope) << "token requests: " << slurp(reg.token_log());

    // A mount from another repository needs a token for both: push on the
    // target, pull on the source, in one request.
    auto other = run_kiln(dir / "root",
                          {"push", reg.host() + "/kiln/app:1", reg.host() + "/other/app:1"}, env);
    ASSERT_EQ(other.exit_code, 0) << joined(other);
    EXPECT_NE(other.err.find("mounted from kiln/app"), std::string::npos) << other.err;
    bool both = false;
    for (const auto& req : reg.token_requests()) {
        const std::string text = req.dump();
        if (text.find("repository:other/app:pull,push") != std::string::npos &&
            text.find("repository:kiln/app:pull") != std::string::npos)
            both = true;
    }
    EXPECT_TRUE(both) << "token requests: " << slurp(reg.token_log());
}

TEST_F(Registry, PushWithoutCredentialsIsRefusedClearly) {
    SKIP_UNLESS_REGISTRY(RegistryMode::basic);
    RegistryFixture reg(RegistryMode::basic);
    write(dir / "empty-config/config.json", "{}");
    write_app();
    auto r = run_kiln(dir / "root",
                      {"build", "--push", "-t", reg.host() + "/kiln/app:1", (dir / "app").string()},
                      {{"DOCKER_CONFIG", (dir / "empty-config").string()}});
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("registry " + reg.host()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("kiln login"), std::string::npos) << r.err;
    // The image was still built and named locally.
    auto images = run_kiln(dir / "root", {"images"});
    EXPECT_NE(images.out.find(reg.host() + "/kiln/app:1"), std::string::npos) << images.out;
}

TEST_F(Registry, LoginWritesDockerConfigAndLogoutRemovesIt) {
    SKIP_UNLESS_REGISTRY(RegistryMode::token);
    RegistryFixture reg(RegistryMode::token);
    const fs::path cfg = dir / "cfg";
    std::map<std::string, std::string> env{{"DOCKER_CONFIG", cfg.string()}};
    write(cfg / "config.json", R"({"experimental":"enabled"})");

    auto bad =
        run_kiln(dir / "root", {"login", "-u", reg.username(), "-p", "wrong", reg.host()}, env);
    EXPECT_EQ(bad.exit_code, 1) << joined(bad);
    EXPECT_NE(bad.err.find(reg.host()), std::string::npos) << bad.err;
    EXPECT_EQ(slurp(cfg / "config.json").find("auths"), std::string::npos);

    auto ok = run({"sh", "-c",
                   "printf '%s\\n' \"$PW\" | " + std::string(KILN_BINARY) + " --root " +
                       (dir / "root").string() + " login -u " + reg.username() +
                       " --password-stdin " + reg.host()},
                  {{"DOCKER_CONFIG", cfg.string()}, {"PW", reg.password()}});
    ASSERT_EQ(ok.exit_code, 0) << joined(ok);
    EXPECT_NE(ok.out.find("Login Succeeded"), std::string::npos);
    struct stat st {};
    ASSERT_EQ(::stat((cfg / "config.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto config = json::parse(slurp(cfg / "config.json"));
    EXPECT_EQ(config.at("experimental"), "enabled") << "other keys are kept";
    EXPECT_TRUE(config.at("auths").contains(reg.host())) << config.dump();

    // skopeo reads what kiln wrote: the same file format as docker login.
    write_app();
    auto push = run_kiln(
        dir / "root",
        {"build", "--push", "-t", reg.host() + "/kiln/login:1", (dir / "app").string()}, env);
    ASSERT_EQ(push.exit_code, 0) << joined(push);
    auto inspect = run({"skopeo", "inspect", "--tls-verify=false", "--authfile",
                        (cfg / "config.json").string(), reg.skopeo_ref("kiln/login:1")});
    EXPECT_EQ(inspect.exit_code, 0) << joined(inspect);

    auto out = run_kiln(dir / "root", {"logout", reg.host()}, env);
    ASSERT_EQ(out.exit_code, 0) << joined(out);
    config = json::parse(slurp(cfg / "config.json"));
    EXPECT_FALSE(config.contains("auths") && config.at("auths").contains(reg.host()))
        << config.dump();
}

TEST_F(Registry, DockerHubNamesMapToTheTestMirror) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    env["KILN_DOCKER_IO_HOST"] = reg.host();
    write_app();
    auto b = run_kiln(dir / "root", {"build", "-t", "hubapp:1", (dir / "app").string()}, env);
    ASSERT_EQ(b.exit_code, 0) << joined(b);
    // docker.io/library/hubapp:1 is library/hubapp on the mirror.
    auto p = run_kiln(dir / "root", {"push", "hubapp:1"}, env);
    ASSERT_EQ(p.exit_code, 0) << joined(p);
    auto inspect =
        run({"skopeo", "inspect", "--tls-verify=false", reg.skopeo_ref("library/hubapp:1")});
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    EXPECT_EQ(json::parse(inspect.out).at("Digest"), pushed_digest(p.out));

    // FROM hubapp:1 in a fresh root pulls it (the store lacks it).
    write(dir / "child/Dockerfile",
          "FROM hubapp:1\nRUN [\"/bin/busybox\", \"touch\", \"/child\"]\n");
    auto c = run_kiln(dir / "fresh",
                      {"build", "-t", "child:1", "-o", "type=local,dest=" + (dir / "out").string(),
                       (dir / "child").string()},
                      env);
    ASSERT_EQ(c.exit_code, 0) << joined(c);
    EXPECT_EQ(slurp(dir / "out/hello.txt"), "hello from the registry\n");
    EXPECT_TRUE(fs::exists(dir / "out/child"));
    auto images = run_kiln(dir / "fresh", {"images"});
    EXPECT_NE(images.out.find("hubapp:1"), std::string::npos) << images.out;
}

TEST_F(Registry, MissingBaseImageNamesTheFromLineAndTheRegistry) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    write(dir / "app/Dockerfile", "FROM scratch\nFROM " + reg.host() + "/nothere:1\n");
    auto r = run_kiln(dir / "root", {"build", (dir / "app").string()}, env_for(reg));
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("Dockerfile:2: FROM " + reg.host() + "/nothere:1"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

// A pull gets the build's private network ready while it downloads: the RUN
// on the pulled base joins it, and no network is left behind, also when the
// pull fails and no RUN ever comes.
TEST_F(Registry, PullReadiesThePrivateNetworkAndLeavesNoneBehind) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    if (!have_tool("slirp4netns"))
        GTEST_SKIP() << "needs Debian's slirp4netns (tools/bootstrap.sh installs it)";
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    build_and_push(reg, reg.host() + "/kiln/app:1", env);
    auto no_network_left = [&](const fs::path& root) {
        std::istringstream mounts(slurp("/proc/self/mountinfo"));
        for (std::string line; std::getline(mounts, line);)
            EXPECT_EQ(line.find(root.string()), std::string::npos) << "left mounted: " << line;
        EXPECT_NE(run({"pgrep", "-f", "slirp4netns.*" + root.string()}).exit_code, 0)
            << "slirp4netns still running";
    };

    write(dir / "child/Dockerfile", "FROM " + reg.host() +
                                        "/kiln/app:1\nRUN [\"/bin/busybox\", \"cat\", "
                                        "\"/proc/net/dev\"]\n");
    auto c =
        run_kiln(dir / "fresh", {"build", "--progress", "plain", (dir / "child").string()}, env);
    ASSERT_EQ(c.exit_code, 0) << joined(c);
    EXPECT_NE(c.err.find("pull complete"), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("tap0"), std::string::npos) << "not in the private network: " << c.err;
    no_network_left(dir / "fresh");

    write(dir / "missing/Dockerfile", "FROM " + reg.host() + "/nothere:1\nRUN true\n");
    auto m = run_kiln(dir / "other", {"build", (dir / "missing").string()}, env);
    EXPECT_EQ(m.exit_code, 1) << joined(m);
    EXPECT_NE(m.err.find("not found"), std::string::npos) << m.err;
    no_network_left(dir / "other");
}

TEST_F(Registry, PushingAgainSendsNoBlobsAndOtherRepositoriesMount) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    auto digest = build_and_push(reg, reg.host() + "/kiln/app:1", env);
    auto again = run_kiln(dir / "root", {"push", reg.host() + "/kiln/app:1"}, env);
    ASSERT_EQ(again.exit_code, 0) << joined(again);
    EXPECT_EQ(pushed_digest(again.out), digest);
    EXPECT_EQ(again.err.find(": pushed"), std::string::npos) << again.err;
    EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

    auto other = run_kiln(dir / "root",
                          {"push", reg.host() + "/kiln/app:1", reg.host() + "/other/app:2"}, env);
    ASSERT_EQ(other.exit_code, 0) << joined(other);
    EXPECT_NE(other.err.find("mounted from kiln/app"), std::string::npos) << other.err;
    EXPECT_EQ(other.err.find(": pushed"), std::string::npos) << other.err;
    auto inspect = run({"skopeo", "inspect", "--tls-verify=false", reg.skopeo_ref("other/app:2")});
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    EXPECT_EQ(json::parse(inspect.out).at("Digest"), digest);
}

TEST_F(Registry, PullingTwiceDownloadsNothingAgain) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    build_and_push(reg, reg.host() + "/kiln/app:1", env);
    auto first = run_kiln(dir / "fresh", {"pull", reg.host() + "/kiln/app:1"}, env);
    ASSERT_EQ(first.exit_code, 0) << joined(first);
    EXPECT_NE(first.err.find("pull complete"), std::string::npos) << first.err;
    auto second = run_kiln(dir / "fresh", {"pull", reg.host() + "/kiln/app:1"}, env);
    ASSERT_EQ(second.exit_code, 0) << joined(second);
    EXPECT_NE(second.out.find("Image is up to date"), std::string::npos) << second.out;
}

TEST_F(Registry, PushByDigestSetsNoTag) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    RegistryFixture reg(RegistryMode::plain);
    auto env = env_for(reg);
    write_app();
    auto r = run_kiln(
        dir / "root",
        {"build", "-o", "type=registry,name=" + reg.host() + "/kiln/bydigest,push-by-digest=true",
         (dir / "app").string()},
        env);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto digest = pushed_digest_of_build(r);
    ASSERT_EQ(digest.size(), 71u) << r.err;
    auto by_digest = run({"skopeo", "inspect", "--no-tags", "--tls-verify=false",
                          reg.skopeo_ref("kiln/bydigest@" + digest)});
    EXPECT_EQ(by_digest.exit_code, 0) << joined(by_digest);
    auto tags = run({"skopeo", "list-tags", "--tls-verify=false", reg.skopeo_ref("kiln/bydigest")});
    // No tag: distribution answers 404 for the tag list of a repository without one.
    if (tags.exit_code == 0)
        EXPECT_TRUE(json::parse(tags.out).at("Tags").empty()) << tags.out;
    else
        EXPECT_NE(tags.err.find("404"), std::string::npos) << joined(tags);
}
