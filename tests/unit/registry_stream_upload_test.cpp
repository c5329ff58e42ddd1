// Client::stream_upload against a scripted fake Transport: a blob sent in
// PATCH chunks while it is made, and a stream that fails saying so (never
// throwing) and cancelling its session.
#include <gtest/gtest.h>

#include <string>

#include "content/digest.h"
#include "registry/client.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

using content::Digest;
using namespace fake;

class RegistryStreamUpload : public ::testing::Test {
  protected:
    std::shared_ptr<FakeTransport> fake = std::make_shared<FakeTransport>();

    Client client(std::int64_t chunk_size) {
        ClientOptions o;
        o.transport = fake;
        o.retry = RetryPolicy{3, std::chrono::milliseconds(1), std::chrono::milliseconds(3)};
        o.credentials = [](const std::string&) { return std::optional<Credentials>(); };
        o.chunk_size = chunk_size;
        return Client("registry.test", o);
    }
};

const std::string kBlob = "the quick brown fox jumps over the lazy dog";  // 43 bytes

TEST_F(RegistryStreamUpload, BytesGoInChunksAsWrittenThenAPutNamesTheDigest) {
    Client c = client(20);
    fake->script = {reply(202, "", {{"location", "/up/1"}}),
                    reply(202, "", {{"location", "/up/2"}, {"range", "0-19"}}),
                    reply(202, "", {{"location", "/up/3"}, {"range", "0-39"}}),
                    reply(202, "", {{"location", "/up/4"}, {"range", "0-42"}}), reply(201)};
    auto up = c.stream_upload("app");
    // Written in pieces that do not match the chunks.
    for (std::size_t at = 0; at < kBlob.size(); at += 7)
        up->write(kBlob.data() + at, std::min<std::size_t>(7, kBlob.size() - at));
    ASSERT_TRUE(up->finish(Digest::of(kBlob)));
    ASSERT_EQ(fake->sent.size(), 5u);
    EXPECT_EQ(fake->sent[0].method, "POST");
    EXPECT_EQ(fake->sent[0].url, "https://registry.test/v2/app/blobs/uploads/");
    std::string body;
    for (std::size_t i = 1; i <= 3; ++i) {
        EXPECT_EQ(fake->sent[i].method, "PATCH");
        body += fake->sent[i].body;
    }
    EXPECT_EQ(fake->sent[1].url, "https://registry.test/up/1");
    EXPECT_EQ(fake->sent[1].header("Content-Range"), "0-19");
    EXPECT_EQ(fake->sent[2].url, "https://registry.test/up/2");
    EXPECT_EQ(fake->sent[3].header("Content-Range"), "40-42");
    EXPECT_EQ(body, kBlob);
    EXPECT_EQ(fake->sent[4].method, "PUT");
    EXPECT_EQ(fake->sent[4].url,
              "https://registry.test/up/4?digest=sha256%3A" + std::string(Digest::of(kBlob).hex()));
}

TEST_F(RegistryStreamUpload, ARefusedChunkEndsTheStreamAndCancelsTheSession) {
    Client c = client(20);
    fake->script = {reply(202, "", {{"location", "/up/1"}}), reply(405),
                    reply(204)};  // DELETE /up/1
    auto up = c.stream_upload("app");
    up->write(kBlob.data(), kBlob.size());  // does not throw, whatever the registry said
    EXPECT_FALSE(up->finish(Digest::of(kBlob)));
    ASSERT_EQ(fake->sent.size(), 3u);
    EXPECT_EQ(fake->sent[1].method, "PATCH");
    EXPECT_EQ(fake->sent[2].method, "DELETE");
    EXPECT_EQ(fake->sent[2].url, "https://registry.test/up/1");
}

TEST_F(RegistryStreamUpload, ARegistryThatOpensNoSessionAtOnceEndsTheStream) {
    // Not even a retryable 503 is tried again here: the usual upload that
    // follows has the retries, so a failing registry costs no extra wait.
    Client c = client(20);
    fake->script = {reply(503), reply(202, "", {{"location", "/up/1"}})};
    auto up = c.stream_upload("app");
    up->write(kBlob.data(), kBlob.size());
    EXPECT_FALSE(up->finish(Digest::of(kBlob)));
    ASSERT_EQ(fake->sent.size(), 1u);
    EXPECT_EQ(fake->sent[0].method, "POST");
}

TEST_F(RegistryStreamUpload, DroppedBeforeFinishCancelsTheSession) {
    Client c = client(20);
    fake->script = {reply(202, "", {{"location", "/up/1"}}), reply(202, "", {{"range", "0-19"}}),
                    reply(204)};  // DELETE /up/1
    {
        auto up = c.stream_upload("app");
        up->write(kBlob.data(), 25);  // one whole chunk is queued, maybe sent
    }                                 // as when compressing the layer failed
    ASSERT_GE(fake->sent.size(), 2u);
    EXPECT_EQ(fake->sent.back().method, "DELETE");
    EXPECT_EQ(fake->sent.back().url, "https://registry.test/up/1");
    for (const auto& s : fake->sent)
        EXPECT_NE(s.method, "PUT") << "an abandoned blob was closed";
}

}  // namespace
}  // namespace kiln::registry
