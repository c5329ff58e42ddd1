// base/go_quote.h: every expected string is what Go prints for the same input with
// strconv.Quote (fmt's %q) or fmt.Sprintf("%q", []string{...}).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/go_quote.h"

namespace kiln {
namespace {

TEST(GoQuote, PlainAndEscapedAscii) {
    EXPECT_EQ(go_quote(""), "\"\"");
    EXPECT_EQ(go_quote("abc"), "\"abc\"");
    EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(go_quote("it's $HOME `x`"), "\"it's $HOME `x`\"");  // ' $ ` stay as they are
}

TEST(GoQuote, ControlCharacters) {
    EXPECT_EQ(go_quote("\a\b\t\n\v\f\r"), "\"\\a\\b\\t\\n\\v\\f\\r\"");
    EXPECT_EQ(go_quote(std::string("\0", 1)), "\"\\x00\"");
    EXPECT_EQ(go_quote("\x1b\x7f"), "\"\\x1b\\x7f\"");
    EXPECT_EQ(go_quote("a\x01z"), "\"a\\x01z\"");
}

TEST(GoQuote, PrintableUnicodeStaysRaw) {
    EXPECT_EQ(go_quote("\xe2\x99\xa5 \xe2\x98\x83 \xed\x95\x9c"),
              "\"\xe2\x99\xa5 \xe2\x98\x83 \xed\x95\x9c\"");
    EXPECT_EQ(go_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");            // é
    EXPECT_EQ(go_quote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");  // emoji, 4 bytes
}

TEST(GoQuote, NonPrintableRunesUseUnicodeEscapes) {
    EXPECT_EQ(go_quote("\xc2\xa0"), "\"\\u00a0\"");      // no-break space
    EXPECT_EQ(go_quote("\xc2\x85"), "\"\\u0085\"");      // C1 control
    EXPECT_EQ(go_quote("\xc2\xad"), "\"\\u00ad\"");      // soft hyphen (Cf)
    EXPECT_EQ(go_quote("\xe2\x80\x8b"), "\"\\u200b\"");  // zero-width space
    EXPECT_EQ(go_quote("\xe2\x80\xa8"), "\"\\u2028\"");  // line separator
    EXPECT_EQ(go_quote("\xef\xbb\xbf"), "\"\\ufeff\"");  // BOM
    EXPECT_EQ(go_quote("\xee\x80\x80"), "\"\\ue000\"");  // private use
    EXPECT_EQ(go_quote("\xf3\xa0\x80\x81"), "\"\\U000e0001\"");
}

TEST(GoQuote, InvalidUtf8BytesAreHexEscaped) {
    EXPECT_EQ(go_quote("\xff"), "\"\\xff\"");
    EXPECT_EQ(go_quote("a\xc3"), "\"a\\xc3\"");                  // truncated sequence
    EXPECT_EQ(go_quote("\xc0\xaf"), "\"\\xc0\\xaf\"");           // overlong
    EXPECT_EQ(go_quote("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");  // surrogate
}

TEST(GoQuoteList, LikeFmtQOfAStringSlice) {
    EXPECT_EQ(go_quote_list({}), "[]");
    EXPECT_EQ(go_quote_list({"/bin/sh", "-c", "echo hi"}), "[\"/bin/sh\" \"-c\" \"echo hi\"]");
    EXPECT_EQ(go_quote_list({""}), "[\"\"]");
    // Each element is quoted in full, control characters included.
    EXPECT_EQ(go_quote_list({"a\"b", "c\\d", "e\nf\tg"}), "[\"a\\\"b\" \"c\\\\d\" \"e\\nf\\tg\"]");
}

}  // namespace
}  // namespace kiln
