#include <gtest/gtest.h>

#include "frontend/dump_ast.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

TEST(DumpAstQuote, PlainAndEscapedAscii) {
    EXPECT_EQ(go_quote(""), "\"\"");
    EXPECT_EQ(go_quote("abc"), "\"abc\"");
    EXPECT_EQ(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(DumpAstQuote, ControlCharacters) {
    EXPECT_EQ(go_quote("\a\b\t\n\v\f\r"), "\"\\a\\b\\t\\n\\v\\f\\r\"");
    EXPECT_EQ(go_quote(std::string("\0", 1)), "\"\\x00\"");
    EXPECT_EQ(go_quote("\x1b\x7f"), "\"\\x1b\\x7f\"");
}

TEST(DumpAstQuote, PrintableUnicodeStaysRaw) {
    EXPECT_EQ(go_quote("\xe2\x99\xa5 \xe2\x98\x83 \xed\x95\x9c"),
              "\"\xe2\x99\xa5 \xe2\x98\x83 \xed\x95\x9c\"");
    EXPECT_EQ(go_quote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");  // emoji, 4 bytes
}

TEST(DumpAstQuote, NonPrintableRunesUseUnicodeEscapes) {
    EXPECT_EQ(go_quote("\xc2\xa0"), "\"\\u00a0\"");      // no-break space
    EXPECT_EQ(go_quote("\xc2\x85"), "\"\\u0085\"");      // C1 control
    EXPECT_EQ(go_quote("\xe2\x80\x8b"), "\"\\u200b\"");  // zero-width space
    EXPECT_EQ(go_quote("\xef\xbb\xbf"), "\"\\ufeff\"");  // BOM
    EXPECT_EQ(go_quote("\xf3\xa0\x80\x81"), "\"\\U000e0001\"");
}

TEST(DumpAstQuote, InvalidUtf8BytesAreHexEscaped) {
    EXPECT_EQ(go_quote("\xff"), "\"\\xff\"");
    EXPECT_EQ(go_quote("a\xc3"), "\"a\\xc3\"");                  // truncated sequence
    EXPECT_EQ(go_quote("\xc0\xaf"), "\"\\xc0\\xaf\"");           // overlong
    EXPECT_EQ(go_quote("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");  // surrogate
}

TEST(DumpAstFormat, KeywordOnly) {
    Node n;
    n.keyword = "cmd";
    EXPECT_EQ(dump_node(n), "cmd");
}

TEST(DumpAstFormat, FlagsThenArgs) {
    Node n;
    n.keyword = "copy";
    n.flags = {"--user=me", "--doit=true"};
    n.args = {"foo", "/tmp/"};
    EXPECT_EQ(dump_node(n), "copy [\"--user=me\" \"--doit=true\"] \"foo\" \"/tmp/\"");
}

TEST(DumpAstFormat, OnbuildNestsWithoutQuotes) {
    auto result = parse_dockerfile("ONBUILD RUN [\"echo\", \"test\"]\nONBUILD\n");
    EXPECT_EQ(dump_ast(result), "(onbuild (run \"echo\" \"test\"))\n(onbuild)\n");
}

TEST(DumpAstFormat, OnbuildNestedFlags) {
    auto result = parse_dockerfile("onbuild --x=1 copy --from=a b c\n");
    EXPECT_EQ(dump_ast(result), "(onbuild [\"--x=1\"] (copy [\"--from=a\"] \"b\" \"c\"))\n");
}

TEST(DumpAstFormat, UnknownKeywordHasOneEmptyArgument) {
    auto result = parse_dockerfile("FROM x\nFOO bar baz\n");
    EXPECT_EQ(dump_ast(result), "(from \"x\")\n(foo \"\")\n");
}

TEST(DumpAstFormat, HeredocBodiesAreNotDumped) {
    auto result = parse_dockerfile("FROM x\nRUN <<EOF\necho hi\nEOF\n");
    EXPECT_EQ(dump_ast(result), "(from \"x\")\n(run \"<<EOF\")\n");
}

}  // namespace
}  // namespace kiln::frontend
