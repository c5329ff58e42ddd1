// The registry's answers read from their bytes (registry/response_text.h).
#include "registry/response_text.h"

#include <gtest/gtest.h>

namespace kiln::registry {
namespace {

TEST(ContentRangeStart, ReadsTheFirstByteOfAByteRange) {
    EXPECT_EQ(content_range_start("bytes 10-99/100"), 10);
    EXPECT_EQ(content_range_start("bytes 0-0/*"), 0);
    EXPECT_EQ(content_range_start(" bytes 5-9/10 "), 5);
}

TEST(ContentRangeStart, RefusesWhatIsNotARangeOfTheBlob) {
    EXPECT_EQ(content_range_start(""), std::nullopt);
    EXPECT_EQ(content_range_start("10-99/100"), std::nullopt);         // no unit
    EXPECT_EQ(content_range_start("bytes 99-10/100"), std::nullopt);   // backwards
    EXPECT_EQ(content_range_start("bytes 10-100/100"), std::nullopt);  // past the end
    EXPECT_EQ(content_range_start("bytes -10-99/100"), std::nullopt);
    EXPECT_EQ(content_range_start("bytes */100"), std::nullopt);
    EXPECT_EQ(content_range_start("bytes 99999999999999999999-1/2"), std::nullopt);
}

TEST(UploadRangeNext, IsTheByteAfterTheRange) {
    EXPECT_EQ(upload_range_next("0-1023"), 1024);
    EXPECT_EQ(upload_range_next("bytes=0-9"), 10);
    // distribution answers an empty upload with 0-0 too.
    EXPECT_EQ(upload_range_next("0-0"), 0);
}

TEST(UploadRangeNext, RefusesMalformedAndOverflowingValues) {
    EXPECT_EQ(upload_range_next(""), std::nullopt);
    EXPECT_EQ(upload_range_next("1024"), std::nullopt);
    EXPECT_EQ(upload_range_next("0-x"), std::nullopt);
    EXPECT_EQ(upload_range_next("0--5"), std::nullopt);
    EXPECT_EQ(upload_range_next("0-9223372036854775807"), std::nullopt);
}

TEST(TokenAnswer, TakesTokenThenAccessTokenAndBoundsTheLifetime) {
    auto a = parse_token_answer(R"({"token":"t1","access_token":"t2","expires_in":300})");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->token, "t1");
    EXPECT_EQ(a->expires_in, 300);
    a = parse_token_answer(R"({"access_token":"t2"})");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->token, "t2");
    EXPECT_EQ(a->expires_in, 60);
    EXPECT_EQ(parse_token_answer(R"({"token":"t","expires_in":1})")->expires_in, 10);
    EXPECT_EQ(parse_token_answer(R"({"token":"t","expires_in":18446744073709551615})")->expires_in,
              86400);
    EXPECT_EQ(parse_token_answer(R"({"token":"t","expires_in":-5})")->expires_in, 10);
}

TEST(TokenAnswer, NoTokenIsNoAnswer) {
    EXPECT_FALSE(parse_token_answer(""));
    EXPECT_FALSE(parse_token_answer("[]"));
    EXPECT_FALSE(parse_token_answer(R"({"token":""})"));
    EXPECT_FALSE(parse_token_answer(R"({"token":5})"));
}

// A token server or registry answers with a body of any size: JSON nested deeper than 64
// levels is no answer, refused as it is read (megabytes of '[' took seconds).
TEST(TokenAnswer, DeepNestingIsNoAnswer) {
    const std::string deep = std::string(1 << 20, '[') + std::string(1 << 20, ']');
    EXPECT_FALSE(parse_token_answer("{\"token\":\"t\",\"x\":" + deep + "}"));
    EXPECT_EQ(error_body_message("{\"errors\":" + deep + "}"), "");
    EXPECT_EQ(parse_token_answer("{\"token\":\"t\",\"x\":[[]]}")->token, "t");
}

TEST(ErrorBodyMessage, NamesTheFirstErrorOrHubsDetails) {
    EXPECT_EQ(
        error_body_message(R"({"errors":[{"code":"DENIED","message":"no push"},{"message":"x"}]})"),
        "no push");
    EXPECT_EQ(error_body_message(R"({"errors":[{"code":"DENIED"}]})"), "DENIED");
    EXPECT_EQ(error_body_message(R"({"details":"incorrect username or password"})"),
              "incorrect username or password");
    EXPECT_EQ(error_body_message("<html>502</html>"), "");
}

TEST(ErrorBodyMessage, IsOneShortLineOfPrintableText) {
    std::string m = error_body_message(R"({"errors":[{"message":"a\nb\r\u001b[31mred\u0007"}]})");
    EXPECT_EQ(m, "a b  [31mred ");
    std::string huge = R"({"details":")" + std::string(1 << 20, 'x') + R"("})";
    m = error_body_message(huge);
    EXPECT_EQ(m, std::string(kMaxMessage, 'x') + "…");
    // Cut between characters, never inside one.
    std::string wide = R"({"details":"a)";
    for (int i = 0; i < 200; ++i)
        wide += "é";
    m = error_body_message(wide + R"("})");
    EXPECT_EQ(m.size(), kMaxMessage - 1 + std::string("…").size());
}

}  // namespace
}  // namespace kiln::registry
