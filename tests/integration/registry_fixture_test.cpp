// Self-tests of the registry fixture and the fault proxy, checked with independent
// tools (skopeo, umoci, curl) and never with kiln: a test of kiln against the fixture
// is only worth something if the fixture is known to behave like a real registry.
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

#define SKIP_UNLESS_REGISTRY(mode)                           \
    do {                                                     \
        if (auto why = RegistryFixture::missing_tools(mode)) \
            GTEST_SKIP() << *why;                            \
        for (const char* tool : {"skopeo", "umoci"}) {       \
            if (!have_tool(tool))                            \
                GTEST_SKIP() << tool << " is not installed"; \
        }                                                    \
    } while (0)

#define SKIP_UNLESS_CURL()                           \
    do {                                             \
        if (!have_tool("curl"))                      \
            GTEST_SKIP() << "curl is not installed"; \
        if (auto why = FaultProxy::missing_tools())  \
            GTEST_SKIP() << *why;                    \
    } while (0)

// A one-layer image (a static busybox) in an OCI layout, made offline with umoci.
// Returns the layout's manifest digest: skopeo copies an OCI manifest to a registry
// unchanged, so the registry must serve exactly this digest back.
std::string make_image(const fs::path& layout) {
    const std::string ref = layout.string() + ":t";
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"umoci", "init", "--layout", layout.string()},
             {"umoci", "new", "--image", ref},
             {"umoci", "insert", "--image", ref, busybox_path().string(), "/bin/busybox"}}) {
        Result r = run(argv);
        if (r.exit_code != 0)
            throw std::runtime_error("umoci failed: " + joined(r));
    }
    auto index = nlohmann::json::parse(slurp(layout / "index.json"));
    return index["manifests"][0]["digest"].get<std::string>();
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Result skopeo_copy(const fs::path& layout, const std::string& dest,
                   const std::vector<std::string>& dest_args) {
    return run(cat(cat({"skopeo", "copy", "--retry-times", "0"}, dest_args),
                   {"oci:" + layout.string() + ":t", dest}));
}

Result skopeo_inspect(const std::string& ref, const std::vector<std::string>& args) {
    return run(cat(cat({"skopeo", "inspect"}, args), {ref}));
}

// Pushes the image with the fixture's own flags and reads it back: the round trip
// every mode must support.
void push_and_read_back(const RegistryFixture& reg, const fs::path& layout,
                        const std::string& digest) {
    const std::string ref = reg.skopeo_ref("fixture/bb:t");
    Result push = skopeo_copy(layout, ref, reg.skopeo_args(SkopeoRole::dest));
    ASSERT_EQ(push.exit_code, 0) << joined(push) << "\nregistry log:\n" << reg.registry_log();
    Result inspect = skopeo_inspect(ref, reg.skopeo_args());
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
    auto j = json_of(inspect);
    EXPECT_EQ(j["Digest"], digest);
    EXPECT_EQ(j["Name"], reg.host() + "/fixture/bb");
    // The blobs are really in the registry's storage.
    EXPECT_TRUE(fs::exists(reg.storage_dir() / "docker/registry/v2/repositories/fixture/bb"));
}

TEST(RegistryFixture, PlainPushAndInspect) {
    SKIP_UNLESS_REGISTRY(RegistryMode::plain);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(RegistryMode::plain);
    EXPECT_EQ(reg.url(), "http://" + reg.host());
    EXPECT_EQ(nlohmann::json::parse(slurp(reg.authfile())),
              nlohmann::json::parse(R"({"auths":{}})"));
    push_and_read_back(reg, s / "L", digest);
}

TEST(RegistryFixture, BasicAuthPushAndRefusals) {
    SKIP_UNLESS_REGISTRY(RegistryMode::basic);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(RegistryMode::basic);
    // The auth file and DOCKER_CONFIG's config.json carry the credentials, keyed by host.
    auto auth = nlohmann::json::parse(slurp(reg.authfile()));
    EXPECT_EQ(auth, nlohmann::json::parse(slurp(reg.docker_config_dir() / "config.json")));
    EXPECT_TRUE(auth["auths"].contains(reg.host())) << auth.dump();
    push_and_read_back(reg, s / "L", digest);

    const std::string ref = reg.skopeo_ref("fixture/anon:t");
    Result anon = skopeo_copy(s / "L", ref, {"--dest-tls-verify=false", "--dest-no-creds"});
    EXPECT_NE(anon.exit_code, 0) << "anonymous push accepted: " << joined(anon);
    Result wrong = skopeo_inspect(reg.skopeo_ref("fixture/bb:t"),
                                  {"--tls-verify=false", "--creds", reg.username() + ":wrong"});
    EXPECT_NE(wrong.exit_code, 0) << "wrong password accepted: " << joined(wrong);
    // --creds with the right password works as well as the auth file.
    Result right =
        skopeo_inspect(reg.skopeo_ref("fixture/bb:t"),
                       {"--tls-verify=false", "--creds", reg.username() + ":" + reg.password()});
    EXPECT_EQ(right.exit_code, 0) << joined(right);
}

TEST(RegistryFixture, TlsVerifiesWithCaOnly) {
    SKIP_UNLESS_REGISTRY(RegistryMode::tls);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(RegistryMode::tls);
    EXPECT_EQ(reg.url(), "https://" + reg.host());
    ASSERT_TRUE(fs::exists(reg.ca_cert()));
    EXPECT_EQ(slurp(reg.certs_dir() / reg.host() / "ca.crt"), slurp(reg.ca_cert()));
    push_and_read_back(reg, s / "L", digest);

    // Without the CA, verification fails: the registry is not trusted by accident.
    Result untrusted =
        skopeo_inspect(reg.skopeo_ref("fixture/bb:t"), {"--tls-verify=true", "--no-creds"});
    EXPECT_NE(untrusted.exit_code, 0) << joined(untrusted);
    EXPECT_NE(untrusted.err.find("certificate"), std::string::npos) << untrusted.err;
    // The server certificate names both 127.0.0.1 and localhost.
    Result by_name = skopeo_inspect(
        "docker://localhost:" + std::to_string(reg.port()) + "/fixture/bb:t",
        {"--tls-verify=true", "--cert-dir", reg.host_cert_dir().string(), "--no-creds"});
    EXPECT_EQ(by_name.exit_code, 0) << joined(by_name);
}

TEST(RegistryFixture, TlsBasicPushAndRefusesAnonymous) {
    SKIP_UNLESS_REGISTRY(RegistryMode::tls_basic);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(RegistryMode::tls_basic);
    push_and_read_back(reg, s / "L", digest);
    Result anon = skopeo_inspect(
        reg.skopeo_ref("fixture/bb:t"),
        {"--tls-verify=true", "--cert-dir", reg.host_cert_dir().string(), "--no-creds"});
    EXPECT_NE(anon.exit_code, 0) << joined(anon);
}

TEST(RegistryFixture, TokenAuthGrantsAndRefuses) {
    SKIP_UNLESS_REGISTRY(RegistryMode::token);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(
        RegistryOptions{.mode = RegistryMode::token, .anonymous = AnonymousAccess::pull});
    push_and_read_back(reg, s / "L", digest);

    // The registry sent skopeo to our realm, and the user got push on the repository.
    bool granted_push = false;
    for (const auto& req : reg.token_requests()) {
        if (req["user"] == reg.username() && req["result"] == "granted") {
            for (const auto& a : req["access"])
                granted_push |= a["name"] == "fixture/bb" &&
                                a["actions"].dump().find("push") != std::string::npos;
        }
    }
    EXPECT_TRUE(granted_push) << slurp(reg.token_log());

    // Anonymous: pull yes, push no.
    Result anon_pull =
        skopeo_inspect(reg.skopeo_ref("fixture/bb:t"), {"--tls-verify=false", "--no-creds"});
    EXPECT_EQ(anon_pull.exit_code, 0) << joined(anon_pull);
    Result anon_push = skopeo_copy(s / "L", reg.skopeo_ref("fixture/other:t"),
                                   {"--dest-tls-verify=false", "--dest-no-creds"});
    EXPECT_NE(anon_push.exit_code, 0) << joined(anon_push);
    // Wrong password: the token server refuses, so skopeo fails.
    Result wrong = skopeo_inspect(reg.skopeo_ref("fixture/bb:t"),
                                  {"--tls-verify=false", "--creds", reg.username() + ":nope"});
    EXPECT_NE(wrong.exit_code, 0) << joined(wrong);
    EXPECT_NE(slurp(reg.token_log()).find("bad credentials"), std::string::npos);
}

TEST(RegistryFixture, TokenAnonymousDenied) {
    SKIP_UNLESS_REGISTRY(RegistryMode::token);
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(
        RegistryOptions{.mode = RegistryMode::token, .anonymous = AnonymousAccess::deny});
    push_and_read_back(reg, s / "L", digest);
    Result anon =
        skopeo_inspect(reg.skopeo_ref("fixture/bb:t"), {"--tls-verify=false", "--no-creds"});
    EXPECT_NE(anon.exit_code, 0) << joined(anon);
    EXPECT_NE(slurp(reg.token_log()).find("anonymous denied"), std::string::npos);
}

// skopeo 1.9 retries a 429 on requests without a body (HEAD, GET) after Retry-After,
// so a push and an inspect through a proxy answering a quarter of those with 429
// still succeed, and the stats show the faults happened. (It gives up at once on a
// 5xx, and on a 429 to POST/PUT, so those are checked with curl below.)
TEST(RegistryFixture, FaultProxy429SkopeoSurvives) {
    SKIP_UNLESS_REGISTRY(RegistryMode::basic);
    if (auto why = FaultProxy::missing_tools())
        GTEST_SKIP() << *why;
    Scratch s;
    const std::string digest = make_image(s / "L");
    RegistryFixture reg(RegistryMode::basic);
    FaultProxy proxy(reg, FaultOptions{.seed = 2, .rate_429 = 0.1, .methods = "HEAD,GET"});
    const std::string ref = proxy.skopeo_ref("fixture/bb:t");
    Result push =
        run(cat(cat({"skopeo", "copy", "--retry-times", "5"}, proxy.skopeo_args(SkopeoRole::dest)),
                {"oci:" + (s / "L").string() + ":t", ref}));
    ASSERT_EQ(push.exit_code, 0) << joined(push) << "\nproxy:\n" << proxy.log();
    Result inspect =
        run(cat(cat({"skopeo", "inspect", "--retry-times", "5"}, proxy.skopeo_args()), {ref}));
    ASSERT_EQ(inspect.exit_code, 0) << joined(inspect) << "\nproxy:\n" << proxy.log();
    EXPECT_EQ(json_of(inspect)["Digest"], digest);
    // Straight from the registry too: the proxy forwarded the push faithfully.
    Result direct = skopeo_inspect(reg.skopeo_ref("fixture/bb:t"), reg.skopeo_args());
    ASSERT_EQ(direct.exit_code, 0) << joined(direct);
    EXPECT_EQ(json_of(direct)["Digest"], digest);

    auto st = proxy.stats();
    EXPECT_GT(proxy.faults(), 0) << st.dump();
    EXPECT_GT(st["forwarded"].get<int>(), 0) << st.dump();
    EXPECT_EQ(proxy.faults("upstream_error"), 0) << st.dump();
}

// Raw HTTP through the proxy with curl, one fault kind at a time at rate 1, against
// a blob stored straight in the registry.
class RegistryFixtureProxy : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
            GTEST_SKIP() << *why;
        SKIP_UNLESS_CURL();
        reg_ = std::make_unique<RegistryFixture>(RegistryMode::plain);
        blob_ = s_ / "blob";
        std::mt19937 rng(1);
        std::string data(300 * 1024, '\0');
        for (auto& c : data)
            c = static_cast<char>(rng());
        write(blob_, data);
        digest_ = "sha256:" + sha256(blob_);
        upload(reg_->url(), blob_, digest_, false);
    }

    static std::string sha256(const fs::path& f) {
        Result r = run({"sha256sum", f.string()});
        return r.out.substr(0, 64);
    }

    // Monolithic blob upload: POST for a session, then PUT the body with ?digest=.
    // Checks the Location came back pointing at the host we spoke to.
    static void upload(const std::string& base, const fs::path& file, const std::string& digest,
                       bool chunked) {
        Result post = run({"curl", "-sS", "-o", "/dev/null", "-D", "-", "-X", "POST",
                           base + "/v2/fixture/blob/blobs/uploads/"});
        ASSERT_EQ(post.exit_code, 0) << joined(post);
        std::string location;
        std::istringstream in(post.out);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("Location:", 0) == 0 || line.rfind("location:", 0) == 0)
                location = line.substr(line.find(' ') + 1);
        }
        while (!location.empty() && (location.back() == '\r' || location.back() == ' '))
            location.pop_back();
        ASSERT_EQ(location.rfind(base + "/", 0), 0u) << "Location " << location << "\n" << post.out;
        location += (location.find('?') == std::string::npos ? "?" : "&");
        location += "digest=" + digest;
        std::vector<std::string> put = {"curl",         "-sS", "-f",  "-o", "/dev/null",  "-w",
                                        "%{http_code}", "-X",  "PUT", "-T", file.string()};
        if (chunked)
            put.insert(put.end(), {"-H", "Transfer-Encoding: chunked"});
        put.push_back(location);
        Result r = run(put);
        ASSERT_EQ(r.exit_code, 0) << joined(r);
        EXPECT_EQ(r.out, "201");
    }

    // GETs the blob through `proxy` into a file; returns curl's result.
    Result fetch(const FaultProxy& proxy, const fs::path& out) const {
        return run({"curl", "-sS", "-f", "-o", out.string(),
                    proxy.url() + "/v2/fixture/blob/blobs/" + digest_});
    }

    Scratch s_;
    std::unique_ptr<RegistryFixture> reg_;
    fs::path blob_;
    std::string digest_;
};

TEST_F(RegistryFixtureProxy, ForwardsFaithfully) {
    FaultProxy proxy(*reg_);
    Result r = fetch(proxy, s_ / "out");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ("sha256:" + sha256(s_ / "out"), digest_);
    EXPECT_EQ(proxy.faults(), 0);
    EXPECT_EQ(proxy.stats()["forwarded"], 1);
}

TEST_F(RegistryFixtureProxy, Truncates) {
    FaultProxy proxy(*reg_, FaultOptions{.truncate_rate = 1});
    Result r = fetch(proxy, s_ / "out");
    EXPECT_EQ(r.exit_code, 18) << "curl: expected 'partial file'\n" << joined(r);
    EXPECT_EQ(proxy.faults("truncate"), 1) << proxy.stats().dump();
    EXPECT_LT(fs::file_size(s_ / "out"), fs::file_size(blob_));
}

TEST_F(RegistryFixtureProxy, Drops) {
    FaultProxy proxy(*reg_, FaultOptions{.drop_rate = 1});
    Result r = fetch(proxy, s_ / "out");
    EXPECT_NE(r.exit_code, 0) << joined(r);
    EXPECT_EQ(proxy.faults("drop"), 1) << proxy.stats().dump();
}

TEST_F(RegistryFixtureProxy, CorruptsBlobGets) {
    FaultProxy proxy(*reg_, FaultOptions{.corrupt_blob_rate = 1});
    Result r = fetch(proxy, s_ / "out");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(fs::file_size(s_ / "out"), fs::file_size(blob_));
    EXPECT_NE("sha256:" + sha256(s_ / "out"), digest_);
    EXPECT_EQ(proxy.faults("corrupt"), 1);
    // Only blob GETs are corrupted: a HEAD or the /v2/ ping passes untouched.
    Result ping = run({"curl", "-sS", "-f", proxy.url() + "/v2/"});
    EXPECT_EQ(ping.exit_code, 0) << joined(ping);
    EXPECT_EQ(proxy.faults("corrupt"), 1);
}

TEST_F(RegistryFixtureProxy, FailFirstAnd429) {
    FaultProxy proxy(*reg_, FaultOptions{.fail_first = 2, .path_regex = "^/v2/$"});
    auto code = [&] {
        return run({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", proxy.url() + "/v2/"})
            .out;
    };
    EXPECT_EQ(code(), "503");
    EXPECT_EQ(code(), "503");
    EXPECT_EQ(code(), "200");
    EXPECT_EQ(proxy.faults("fail_first"), 2);

    FaultProxy busy(*reg_, FaultOptions{.rate_429 = 1});
    Result r = run({"curl", "-sS", "-D", "-", "-o", "/dev/null", busy.url() + "/v2/"});
    EXPECT_NE(r.out.find("429"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Retry-After: 1"), std::string::npos) << r.out;
    EXPECT_EQ(busy.faults("status_429"), 1);
}

// 50 MB through the proxy both ways (Content-Length and chunked uploads, then a GET):
// the bytes arrive intact and the proxy's peak memory stays far below the blob size.
TEST_F(RegistryFixtureProxy, StreamsLargeBlobs) {
    FaultProxy proxy(*reg_);
    const fs::path big = s_ / "big";
    {
        std::ifstream rnd("/dev/urandom", std::ios::binary);
        std::ofstream out(big, std::ios::binary);
        std::vector<char> buf(1 << 20);
        for (int i = 0; i < 50; ++i) {
            rnd.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
        }
    }
    const std::string digest = "sha256:" + sha256(big);
    upload(proxy.url(), big, digest, false);
    // The same bytes again, chunked this time (the registry accepts a re-upload).
    upload(proxy.url(), big, digest, true);
    const fs::path back = s_ / "back";
    Result r = run({"curl", "-sS", "-f", "-o", back.string(),
                    proxy.url() + "/v2/fixture/blob/blobs/" + digest});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ("sha256:" + sha256(back), digest);

    // VmHWM: the proxy's peak resident memory. Python itself takes ~10-20 MB; a proxy
    // that buffered a body would be past 50 MB.
    std::ifstream status("/proc/" + std::to_string(proxy.pid()) + "/status");
    long hwm_kb = -1;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmHWM:", 0) == 0)
            hwm_kb = std::stol(line.substr(6));
    }
    ASSERT_GT(hwm_kb, 0);
    RecordProperty("fault_proxy_peak_rss_kb", std::to_string(hwm_kb));
    EXPECT_LT(hwm_kb, 40 * 1024) << "fault proxy peak RSS " << hwm_kb << " kB";
    EXPECT_EQ(proxy.faults(), 0) << proxy.log();
}

}  // namespace
}  // namespace kiln::test
