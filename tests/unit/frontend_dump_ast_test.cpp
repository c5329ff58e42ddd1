#include <gtest/gtest.h>

#include "frontend/dump_ast.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

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
