#include <gtest/gtest.h>

#include "registry/auth_challenge.h"
#include "registry/url.h"

namespace kiln::registry {
namespace {

TEST(RegistryAuthChallenge, BearerWithCommaInsideQuotedScope) {
    auto cs = parse_www_authenticate(
        R"(Bearer realm="https://auth.test/token",service="registry.test",scope="repository:a/b:pull,push")");
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].scheme, "bearer");
    EXPECT_EQ(cs[0].param("realm"), "https://auth.test/token");
    EXPECT_EQ(cs[0].param("service"), "registry.test");
    EXPECT_EQ(cs[0].param("scope"), "repository:a/b:pull,push");
}

TEST(RegistryAuthChallenge, SeveralChallengesInOneHeader) {
    auto cs = parse_www_authenticate(
        R"(Basic realm="basic, realm", Bearer realm="https://t/x",service=svc)");
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].scheme, "basic");
    EXPECT_EQ(cs[0].param("realm"), "basic, realm");
    EXPECT_EQ(cs[1].scheme, "bearer");
    EXPECT_EQ(cs[1].param("realm"), "https://t/x");
    EXPECT_EQ(cs[1].param("service"), "svc");
}

TEST(RegistryAuthChallenge, CaseInsensitiveNamesEscapesAndSpaces) {
    auto cs = parse_www_authenticate(R"(BEARER  Realm = "a\"b" , Service="s")");
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].scheme, "bearer");
    EXPECT_EQ(cs[0].param("realm"), "a\"b");
    EXPECT_EQ(cs[0].param("service"), "s");
}

TEST(RegistryAuthChallenge, Token68ThenAnotherChallenge) {
    auto cs = parse_www_authenticate(R"(Negotiate abc+/==, Basic realm="r")");
    ASSERT_EQ(cs.size(), 2u);
    EXPECT_EQ(cs[0].scheme, "negotiate");
    EXPECT_EQ(cs[0].token68, "abc+/==");
    EXPECT_EQ(cs[1].scheme, "basic");
    EXPECT_EQ(cs[1].param("realm"), "r");
}

TEST(RegistryAuthChallenge, SchemeWithoutParams) {
    auto cs = parse_www_authenticate("Basic");
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].scheme, "basic");
    EXPECT_TRUE(cs[0].params.empty());
}

TEST(RegistryAuthChallenge, GarbageDoesNotThrow) {
    EXPECT_NO_THROW(parse_www_authenticate(R"(,,, =" Bearer realm="unterminated)"));
    EXPECT_NO_THROW(parse_www_authenticate(""));
    EXPECT_TRUE(parse_www_authenticate("  ,  ").empty());
}

// Megabytes of words were millions of challenges (800 MB); only the first 64 KiB is read.
TEST(RegistryAuthChallenge, OnlyTheFirst64KiBOfAHeaderIsRead) {
    std::string header = "Bearer realm=\"https://auth.test/token\",service=\"reg\"";
    while (header.size() < (1u << 20))
        header += ", Basic realm=\"r\"";
    const auto cs = parse_www_authenticate(header);
    ASSERT_FALSE(cs.empty());
    EXPECT_EQ(cs[0].param("realm"), "https://auth.test/token");
    EXPECT_LT(cs.size(), kMaxChallengeHeader / 16);
    EXPECT_GT(cs.size(), kMaxChallengeHeader / 20);
}

TEST(RegistryUrl, ResolvesLocations) {
    const std::string base = "https://r.test:5000/v2/app/blobs/uploads/";
    EXPECT_EQ(resolve_url(base, "/v2/app/blobs/uploads/u1?_state=x"),
              "https://r.test:5000/v2/app/blobs/uploads/u1?_state=x");
    EXPECT_EQ(resolve_url(base, "https://s3.test/b?sig=1"), "https://s3.test/b?sig=1");
    EXPECT_EQ(resolve_url(base, "//other.test/p"), "https://other.test/p");
    EXPECT_EQ(resolve_url(base, "u2"), "https://r.test:5000/v2/app/blobs/uploads/u2");
}

TEST(RegistryUrl, AppendsQueryParams) {
    EXPECT_EQ(append_query("https://r/u", "digest=d"), "https://r/u?digest=d");
    EXPECT_EQ(append_query("https://r/u?_state=s", "digest=d"), "https://r/u?_state=s&digest=d");
    EXPECT_EQ(append_query("https://r/u?", "digest=d"), "https://r/u?digest=d");
    EXPECT_EQ(percent_encode("sha256:ab/c d"), "sha256%3Aab%2Fc%20d");
}

}  // namespace
}  // namespace kiln::registry
