// Client against a scripted fake Transport: each test lists the exchanges it
// expects, in order, and checks the requests the client made.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

#include "base/base64.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/client.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
using content::Digest;

using namespace fake;

class RegistryClient : public ::testing::Test {
  protected:
    std::shared_ptr<FakeTransport> fake = std::make_shared<FakeTransport>();
    std::optional<Credentials> creds;
    TempDir dir{fs::temp_directory_path(), "kiln-regtest-"};
    content::StateRoot root{dir.path() / "root"};

    ClientOptions options() {
        ClientOptions o;
        o.transport = fake;
        o.retry = RetryPolicy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(3)};
        o.credentials = [this](const std::string&) { return creds; };
        return o;
    }
    const content::BlobStore& store() { return root.blobs(); }
};

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})";
const std::multimap<std::string, std::string> kOciType = {
    {"content-type", "application/vnd.oci.image.manifest.v1+json"}};
const std::multimap<std::string, std::string> kBearer = {
    {"www-authenticate",
     R"(Bearer realm="https://auth.test/token",service="registry.test",scope="repository:app:pull")"}};

TEST_F(RegistryClient, GetManifestHappyPath) {
    Client c("registry.test", options());
    fake->script = {reply(200, kManifest, kOciType)};
    auto m = c.get_manifest("app", "v1");
    EXPECT_EQ(m.bytes, kManifest);
    EXPECT_EQ(m.digest, Digest::of(kManifest));
    EXPECT_EQ(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    ASSERT_EQ(fake->sent.size(), 1u);
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/app/manifests/v1");
    EXPECT_NE(fake->sent[0].header("Accept").find("application/vnd.oci.image.index.v1+json"),
              std::string::npos);
    EXPECT_EQ(fake->sent[0].header("Authorization"), "");
}

TEST_F(RegistryClient, MediaTypeFromDocumentWhenContentTypeIsGeneric) {
    Client c("registry.test", options());
    fake->script = {reply(200, kManifest, {{"content-type", "application/json"}})};
    EXPECT_EQ(c.get_manifest("app", "v1").media_type, "application/vnd.oci.image.manifest.v1+json");
}

TEST_F(RegistryClient, ManifestDigestVerifiedWhenRequestedByDigest) {
    Client c("registry.test", options());
    Digest other = Digest::of("something else");
    fake->script = {reply(200, kManifest, kOciType)};
    try {
        c.get_manifest("app", other.str());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(Digest::of(kManifest).str()), std::string::npos);
        EXPECT_NE(std::string(e.what()).find(other.str()), std::string::npos);
    }
}

TEST_F(RegistryClient, ManifestNotFound) {
    Client c("registry.test", options());
    fake->script = {
        reply(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})")};
    EXPECT_THROW(
        {
            try {
                c.get_manifest("app", "v9");
            } catch (const Error& e) {
                EXPECT_STREQ(e.what(), "registry registry.test: app: manifest v9 not found");
                throw;
            }
        },
        Error);
}

TEST_F(RegistryClient, Schema1RefusedByContentType) {
    Client c("registry.test", options());
    fake->script = {
        reply(200, R"({"schemaVersion":1})",
              {{"content-type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}})};
    try {
        c.get_manifest("app", "old");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("Docker schema 1"), std::string::npos);
    }
}

TEST_F(RegistryClient, Schema1RefusedBySchemaVersion) {
    Client c("registry.test", options());
    fake->script = {
        reply(200, R"({"schemaVersion":1,"name":"app"})", {{"content-type", "application/json"}})};
    EXPECT_THROW(c.get_manifest("app", "old"), Error);
}

TEST_F(RegistryClient, HeadManifest) {
    Client c("registry.test", options());
    Digest d = Digest::of(kManifest);
    fake->script = {reply(200, "", {{"docker-content-digest", d.str()}}), reply(404)};
    EXPECT_EQ(c.head_manifest("app", "v1"), d);
    EXPECT_EQ(c.head_manifest("app", "v2"), std::nullopt);
    EXPECT_EQ(fake->sent[0].method, "HEAD");
}

TEST_F(RegistryClient, BearerTokenFetchedWithServiceAndScopeThenCached) {
    Client c("registry.test", options());
    fake->script = {reply(401, "", kBearer), reply(200, R"({"token":"T1","expires_in":300})"),
                    reply(200, kManifest, kOciType), reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v2");
    ASSERT_EQ(fake->sent.size(), 4u);
    EXPECT_EQ(fake->sent[1].url,
              "https://auth.test/token?service=registry.test&scope=repository%3Aapp%3Apull");
    EXPECT_EQ(fake->sent[1].header("Authorization"), "");
    EXPECT_EQ(fake->sent[2].header("Authorization"), "Bearer T1");
    EXPECT_EQ(fake->sent[3].header("Authorization"), "Bearer T1");
}

TEST_F(RegistryClient, BearerTokenUsesCredentialsAndAccessToken) {
    creds = Credentials{"alice", "s3cret", ""};
    Client c("registry.test", options());
    fake->script = {reply(401, "", kBearer), reply(200, R"({"access_token":"A1"})"),
                    reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    EXPECT_EQ(fake->sent[1].header("Authorization"), "Basic " + base64_encode("alice:s3cret"));
    EXPECT_EQ(fake->sent[2].header("Authorization"), "Bearer A1");
}

TEST_F(RegistryClient, BearerTokenPerScopeSet) {
    Client c("registry.test", options());
    Digest d = Digest::of(kManifest);
    fake->script = {
        reply(401, "", kBearer), reply(200, R"({"token":"PULL"})"), reply(200, kManifest, kOciType),
        // push scope: a token is fetched upfront now that the realm is known
        reply(200, R"({"token":"PUSH"})"), reply(201, "", {{"docker-content-digest", d.str()}})};
    c.get_manifest("app", "v1");
    c.put_manifest("app", "v1", "application/vnd.oci.image.manifest.v1+json", kManifest);
    ASSERT_EQ(fake->sent.size(), 5u);
    EXPECT_NE(fake->sent[3].url.find("scope=repository%3Aapp%3Apull%2Cpush"), std::string::npos);
    EXPECT_EQ(fake->sent[4].method, "PUT");
    EXPECT_EQ(fake->sent[4].header("Authorization"), "Bearer PUSH");
    EXPECT_EQ(fake->sent[4].header("Content-Type"), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(fake->sent[4].body, kManifest);
}

TEST_F(RegistryClient, BearerTokenRefreshedOn401) {
    Client c("registry.test", options());
    fake->script = {
        reply(401, "", kBearer),         reply(200, R"({"token":"T1"})"),
        reply(200, kManifest, kOciType), reply(401, "", kBearer),  // T1 no longer accepted
        reply(200, R"({"token":"T2"})"), reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v1");
    ASSERT_EQ(fake->sent.size(), 6u);
    EXPECT_EQ(fake->sent[3].header("Authorization"), "Bearer T1");
    EXPECT_EQ(fake->sent[5].header("Authorization"), "Bearer T2");
}

TEST_F(RegistryClient, TokenEndpointRejectsCredentials) {
    creds = Credentials{"alice", "wrong", ""};
    Client c("registry.test", options());
    fake->script = {reply(401, "", kBearer),
                    reply(401, R"({"details":"incorrect username or password"})")};
    try {
        c.get_manifest("app", "v1");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "registry registry.test: app: authentication failed (wrong credentials?)");
    }
}

TEST_F(RegistryClient, BasicAuth) {
    creds = Credentials{"bob", "pw", ""};
    Client c("registry.test", options());
    fake->script = {reply(401, "", {{"www-authenticate", R"(Basic realm="Registry Realm")"}}),
                    reply(200, kManifest, kOciType), reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v1");
    EXPECT_EQ(fake->sent[1].header("Authorization"), "Basic " + base64_encode("bob:pw"));
    // Known to be Basic now: sent upfront.
    EXPECT_EQ(fake->sent[2].header("Authorization"), "Basic " + base64_encode("bob:pw"));
}

TEST_F(RegistryClient, BasicAuthWithoutCredentials) {
    Client c("registry.test", options());
    fake->script = {reply(401, "", {{"www-authenticate", R"(Basic realm="Registry Realm")"}})};
    try {
        c.get_manifest("app", "v1");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "registry registry.test: authentication required (kiln login registry.test)");
    }
}

TEST_F(RegistryClient, CheckLogin) {
    Client c("registry.test", options());
    fake->script = {reply(401, "", {{"www-authenticate", R"(Basic realm="r")"}}), reply(200),
                    reply(401, "", {{"www-authenticate", R"(Basic realm="r")"}}),
                    reply(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad password"}]})",
                          {{"www-authenticate", R"(Basic realm="r")"}})};
    c.check_login(Credentials{"u", "p", ""});
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/");
    EXPECT_EQ(fake->sent[1].header("Authorization"), "Basic " + base64_encode("u:p"));
    Client c2("registry.test", options());
    try {
        c2.check_login(Credentials{"u", "bad", ""});
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "registry registry.test: login failed: 401 bad password");
    }
}

TEST_F(RegistryClient, RetriesOn503ThenSucceeds) {
    Client c("registry.test", options());
    fake->script = {reply(503), reply(200, kManifest, kOciType)};
    EXPECT_EQ(c.get_manifest("app", "v1").bytes, kManifest);
    EXPECT_EQ(fake->sent.size(), 2u);
}

TEST_F(RegistryClient, RetriesOn429WithRetryAfter) {
    Client c("registry.test", options());
    fake->script = {reply(429, "", {{"retry-after", "1"}}), reply(200, kManifest, kOciType)};
    EXPECT_EQ(c.get_manifest("app", "v1").bytes, kManifest);
    EXPECT_EQ(fake->sent.size(), 2u);
}

TEST_F(RegistryClient, AttemptsExhaustedNamesHostRepoAndBlob) {
    Client c("registry.test", options());
    Digest d = Digest::of("blob");
    fake->script = {reply(503), reply(503),
                    reply(503, R"({"errors":[{"code":"UNAVAILABLE","message":"try later"}]})")};
    try {
        c.has_blob("app", d);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "registry registry.test: app: blob " + d.str() + ": 503 try later");
    }
    EXPECT_EQ(fake->sent.size(), 3u);
}

TEST_F(RegistryClient, TransportErrorsExhausted) {
    Client c("registry.test", options());
    Digest d = Digest::of("blob");
    fake->script = {broken(), broken(), broken()};
    try {
        c.has_blob("app", d);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "registry registry.test: app: blob " + d.str() + ": connection reset by peer");
    }
}

TEST_F(RegistryClient, CertificateErrorNotRetried) {
    Client c("registry.test", options());
    fake->script = {broken(/*retryable=*/false)};
    EXPECT_THROW(c.has_blob("app", Digest::of("x")), TransportError);
    EXPECT_EQ(fake->sent.size(), 1u);
}

TEST_F(RegistryClient, HasBlob) {
    Client c("registry.test", options());
    fake->script = {reply(200), reply(404)};
    EXPECT_TRUE(c.has_blob("app", Digest::of("a")));
    EXPECT_FALSE(c.has_blob("app", Digest::of("b")));
    EXPECT_EQ(fake->sent[0].method, "HEAD");
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/app/blobs/" + Digest::of("a").str());
}

const std::string kBlob = "the quick brown fox jumps over the lazy dog";

TEST_F(RegistryClient, FetchBlob) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    fake->script = {reply(200, kBlob)};
    std::int64_t seen = 0;
    auto info = c.fetch_blob("app", d, kBlob.size(), store(), [&](std::int64_t n) { seen = n; });
    EXPECT_EQ(info.digest, d);
    EXPECT_EQ(info.size, static_cast<std::int64_t>(kBlob.size()));
    EXPECT_EQ(store().read_all(d), kBlob);
    EXPECT_EQ(seen, static_cast<std::int64_t>(kBlob.size()));
    // Already there: no request at all.
    c.fetch_blob("app", d, kBlob.size(), store());
    EXPECT_EQ(fake->sent.size(), 1u);
}

TEST_F(RegistryClient, FetchBlobResumesWithRange) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    std::string range =
        "bytes 10-" + std::to_string(kBlob.size() - 1) + "/" + std::to_string(kBlob.size());
    fake->script = {cut_off(200, kBlob.substr(0, 10)),
                    reply(206, kBlob.substr(10), {{"content-range", range}})};
    c.fetch_blob("app", d, kBlob.size(), store());
    EXPECT_EQ(store().read_all(d), kBlob);
    ASSERT_EQ(fake->sent.size(), 2u);
    EXPECT_EQ(fake->sent[0].header("Range"), "");
    EXPECT_EQ(fake->sent[1].header("Range"), "bytes=10-");
}

TEST_F(RegistryClient, FetchBlobRestartsWhenRangeIgnored) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    fake->script = {cut_off(200, kBlob.substr(0, 10)), reply(200, kBlob)};
    c.fetch_blob("app", d, kBlob.size(), store());
    EXPECT_EQ(store().read_all(d), kBlob);
    EXPECT_EQ(fake->sent[1].header("Range"), "bytes=10-");
}

TEST_F(RegistryClient, FetchBlobDigestMismatch) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    std::string bad = kBlob;
    bad[0] = 'T';
    fake->script = {reply(200, bad), reply(200, bad)};
    try {
        c.fetch_blob("app", d, kBlob.size(), store());
        FAIL();
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_EQ(
            msg.rfind("registry registry.test: app: blob " + d.str() + ": digest mismatch", 0), 0u)
            << msg;
        EXPECT_NE(msg.find(Digest::of(bad).str()), std::string::npos) << msg;
    }
    EXPECT_FALSE(store().has(d));
    EXPECT_FALSE(store().has(Digest::of(bad)));
}

TEST_F(RegistryClient, FetchBlobNotFound) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    fake->script = {reply(404)};
    try {
        c.fetch_blob("app", d, kBlob.size(), store());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "registry registry.test: app: blob " + d.str() + " not found");
    }
}

TEST_F(RegistryClient, FetchBlobTooLong) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    fake->script = {reply(200, kBlob + "extra")};
    EXPECT_THROW(c.fetch_blob("app", d, kBlob.size(), store()), Error);
    EXPECT_FALSE(store().has(d));
}

TEST_F(RegistryClient, PushMonolithicWithRelativeLocation) {
    Client c("registry.test", options());
    Digest d = store().put(kBlob).digest;
    fake->script = {reply(202, "", {{"location", "/v2/app/blobs/uploads/u1?_state=abc"}}),
                    reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 2u);
    EXPECT_EQ(fake->sent[0].method, "POST");
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/app/blobs/uploads/");
    EXPECT_EQ(fake->sent[1].method, "PUT");
    EXPECT_EQ(fake->sent[1].url,
              "https://registry.test/v2/app/blobs/uploads/u1?_state=abc&digest=" +
                  std::string("sha256%3A") + std::string(d.hex()));
    EXPECT_EQ(fake->sent[1].body, kBlob);
    EXPECT_EQ(fake->sent[1].body_size, static_cast<std::int64_t>(kBlob.size()));
    EXPECT_EQ(fake->sent[1].header("Content-Type"), "application/octet-stream");
}

TEST_F(RegistryClient, PushMonolithicRetriesInANewSession) {
    Client c("registry.test", options());
    Digest d = store().put(kBlob).digest;
    fake->script = {reply(202, "", {{"location", "/up/1"}}), reply(503),
                    reply(204),  // DELETE /up/1
                    reply(202, "", {{"location", "/up/2"}}), reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 5u);
    EXPECT_EQ(fake->sent[2].method, "DELETE");
    EXPECT_EQ(fake->sent[2].url, "https://registry.test/up/1");
    EXPECT_EQ(fake->sent[4].url,
              "https://registry.test/up/2?digest=sha256%3A" + std::string(d.hex()));
    EXPECT_EQ(fake->sent[4].body, kBlob);
}

TEST_F(RegistryClient, PushChunkedAboveThreshold) {
    auto o = options();
    o.chunk_threshold = 16;
    o.chunk_size = 20;
    Client c("registry.test", o);
    Digest d = store().put(kBlob).digest;  // 43 bytes: 0-19, 20-39, 40-42
    fake->script = {reply(202, "", {{"location", "https://registry.test/up/1"}}),
                    reply(202, "", {{"location", "/up/2"}, {"range", "0-19"}}),
                    reply(202, "", {{"location", "/up/3"}, {"range", "0-39"}}),
                    reply(202, "", {{"location", "/up/4"}, {"range", "0-42"}}), reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 5u);
    EXPECT_EQ(fake->sent[1].method, "PATCH");
    EXPECT_EQ(fake->sent[1].url, "https://registry.test/up/1");
    EXPECT_EQ(fake->sent[1].header("Content-Range"), "0-19");
    EXPECT_EQ(fake->sent[1].body, kBlob.substr(0, 20));
    EXPECT_EQ(fake->sent[2].url, "https://registry.test/up/2");
    EXPECT_EQ(fake->sent[2].header("Content-Range"), "20-39");
    EXPECT_EQ(fake->sent[3].header("Content-Range"), "40-42");
    EXPECT_EQ(fake->sent[3].body, kBlob.substr(40));
    EXPECT_EQ(fake->sent[4].method, "PUT");
    EXPECT_EQ(fake->sent[4].url,
              "https://registry.test/up/4?digest=sha256%3A" + std::string(d.hex()));
    EXPECT_EQ(fake->sent[4].body, "");
}

TEST_F(RegistryClient, PushChunkedFallsBackToMonolithic) {
    auto o = options();
    o.chunk_threshold = 16;
    Client c("registry.test", o);
    Digest d = store().put(kBlob).digest;
    fake->script = {reply(202, "", {{"location", "/up/1"}}), reply(405), reply(204),  // DELETE
                    reply(202, "", {{"location", "/up/2"}}), reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 5u);
    EXPECT_EQ(fake->sent[1].method, "PATCH");
    EXPECT_EQ(fake->sent[2].method, "DELETE");
    EXPECT_EQ(fake->sent[3].method, "POST");
    EXPECT_EQ(fake->sent[4].method, "PUT");
    EXPECT_EQ(fake->sent[4].body, kBlob);
}

TEST_F(RegistryClient, PushMonolithicFallsBackToChunkedOn413) {
    auto o = options();
    o.chunk_size = 30;
    Client c("registry.test", o);
    Digest d = store().put(kBlob).digest;
    fake->script = {reply(202, "", {{"location", "/up/1"}}),
                    reply(413),
                    reply(204),
                    reply(202, "", {{"location", "/up/2"}}),
                    reply(202, "", {{"location", "/up/3"}}),
                    reply(202, "", {{"location", "/up/4"}}),
                    reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 7u);
    EXPECT_EQ(fake->sent[4].header("Content-Range"), "0-29");
    EXPECT_EQ(fake->sent[5].header("Content-Range"), "30-42");
}

TEST_F(RegistryClient, PushChunkResumesFromReportedRange) {
    auto o = options();
    o.chunk_threshold = 16;
    o.chunk_size = 20;
    Client c("registry.test", o);
    Digest d = store().put(kBlob).digest;
    fake->script = {reply(202, "", {{"location", "/up/1"}}),
                    reply(202, "", {{"location", "/up/2"}, {"range", "0-19"}}),
                    broken(),                             // chunk 20-39 lost midway
                    reply(204, "", {{"range", "0-29"}}),  // GET status: 30 bytes arrived
                    reply(202, "", {{"location", "/up/3"}, {"range", "0-42"}}),
                    reply(201)};
    c.push_blob("app", d, kBlob.size(), store());
    ASSERT_EQ(fake->sent.size(), 6u);
    EXPECT_EQ(fake->sent[3].method, "GET");
    EXPECT_EQ(fake->sent[3].url, "https://registry.test/up/2");
    EXPECT_EQ(fake->sent[4].header("Content-Range"), "30-42");
    EXPECT_EQ(fake->sent[4].body, kBlob.substr(30));
    EXPECT_EQ(fake->sent[5].url,
              "https://registry.test/up/3?digest=sha256%3A" + std::string(d.hex()));
}

TEST_F(RegistryClient, MountAcceptedOrDeclined) {
    Client c("registry.test", options());
    Digest d = Digest::of(kBlob);
    fake->script = {reply(201), reply(202, "", {{"location", "/v2/app/blobs/uploads/u9"}}),
                    reply(204)};
    EXPECT_TRUE(c.mount_blob("app", d, "base/img"));
    EXPECT_EQ(fake->sent[0].method, "POST");
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/app/blobs/uploads/?mount=sha256%3A" +
                                     std::string(d.hex()) + "&from=base%2Fimg");
    EXPECT_FALSE(c.mount_blob("app", d, "base/img"));
    ASSERT_EQ(fake->sent.size(), 3u);
    EXPECT_EQ(fake->sent[2].method, "DELETE");
    EXPECT_EQ(fake->sent[2].url, "https://registry.test/v2/app/blobs/uploads/u9");
}

TEST_F(RegistryClient, MountAsksForSourcePullScope) {
    Client c("registry.test", options());
    fake->script = {reply(401, "", kBearer), reply(200, R"({"token":"M"})"), reply(201)};
    c.mount_blob("app", Digest::of(kBlob), "base/img");
    EXPECT_NE(fake->sent[1].url.find("scope=repository%3Aapp%3Apull%2Cpush"), std::string::npos);
    EXPECT_NE(fake->sent[1].url.find("scope=repository%3Abase%2Fimg%3Apull"), std::string::npos);
}

TEST_F(RegistryClient, PutManifestDigestMismatch) {
    Client c("registry.test", options());
    fake->script = {reply(201, "", {{"docker-content-digest", Digest::of("other").str()}})};
    EXPECT_THROW(
        c.put_manifest("app", "v1", "application/vnd.oci.image.manifest.v1+json", kManifest),
        Error);
}

// Fails every https request the way a plain-http server fails a TLS handshake.
Handler https_refused(Handler then) {
    return [then](const Request& r, const BodySink& sink) -> Response {
        if (r.url.starts_with("https://")) {
            throw TransportError("TLS handshake failed", true);
        }
        return then(r, sink);
    };
}

const std::multimap<std::string, std::string> kRegistryApi = {
    {"docker-distribution-api-version", "registry/2.0"}};

TEST_F(RegistryClient, LoopbackRegistryOverPlainHttpIsFoundWithoutTls) {
    Client c("127.0.0.1:5000", options());
    fake->script = {reply(401, "", kRegistryApi), reply(200, kManifest, kOciType),
                    reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v2");
    ASSERT_EQ(fake->sent.size(), 3u);
    EXPECT_EQ(fake->sent[0].url, "http://127.0.0.1:5000/v2/");
    EXPECT_TRUE(fake->sent[0].headers.empty()) << "the ping carries no credentials";
    EXPECT_EQ(fake->sent[1].url, "http://127.0.0.1:5000/v2/app/manifests/v1");
    EXPECT_EQ(fake->sent[2].url, "http://127.0.0.1:5000/v2/app/manifests/v2");
}

TEST_F(RegistryClient, LoopbackRegistryOverTlsStaysOnHttps) {
    Client c("127.0.0.1:5000", options());
    // What Go's TLS server answers a plain-http request with.
    fake->script = {reply(400, "Client sent an HTTP request to an HTTPS server.\n"),
                    reply(200, kManifest, kOciType), reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v2");
    ASSERT_EQ(fake->sent.size(), 3u);
    EXPECT_EQ(fake->sent[1].url, "https://127.0.0.1:5000/v2/app/manifests/v1");
    EXPECT_TRUE(fake->sent[1].tls_verify);
    EXPECT_EQ(fake->sent[2].url, "https://127.0.0.1:5000/v2/app/manifests/v2");
}

TEST_F(RegistryClient, LoopbackFallsBackToHttpAndRemembers) {
    Client c("127.0.0.1:5000", options());
    // A plain-http server that does not answer the ping as a registry.
    fake->script = {reply(404), https_refused(nullptr), reply(200, kManifest, kOciType),
                    reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    c.get_manifest("app", "v2");
    ASSERT_EQ(fake->sent.size(), 4u);
    EXPECT_EQ(fake->sent[1].url, "https://127.0.0.1:5000/v2/app/manifests/v1");
    EXPECT_EQ(fake->sent[2].url, "http://127.0.0.1:5000/v2/app/manifests/v1");
    EXPECT_EQ(fake->sent[3].url, "http://127.0.0.1:5000/v2/app/manifests/v2");
}

TEST_F(RegistryClient, NoHttpFallbackForOtherHosts) {
    Client c("registry.test", options());
    fake->script = {https_refused(nullptr), https_refused(nullptr), https_refused(nullptr)};
    EXPECT_THROW(c.get_manifest("app", "v1"), Error);
    for (const auto& s : fake->sent) {
        EXPECT_TRUE(s.url.starts_with("https://")) << s.url;
    }
}

TEST_F(RegistryClient, InsecureRegistrySkipsVerificationThenHttp) {
    auto o = options();
    o.insecure_registries = {"registry.test"};
    Client c("registry.test", o);
    fake->script = {https_refused(nullptr), reply(200, kManifest, kOciType)};
    c.get_manifest("app", "v1");
    EXPECT_FALSE(fake->sent[0].tls_verify);
    EXPECT_EQ(fake->sent[1].url, "http://registry.test/v2/app/manifests/v1");
}

TEST_F(RegistryClient, DockerIoUsesRegistry1) {
    ::unsetenv("KILN_DOCKER_IO_HOST");
    Client c("docker.io", options());
    fake->script = {reply(200, kManifest, kOciType)};
    c.get_manifest("library/busybox", "latest");
    EXPECT_EQ(fake->sent[0].url,
              "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
}

}  // namespace
}  // namespace kiln::registry
