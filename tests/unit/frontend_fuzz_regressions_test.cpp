// Inputs found by tests/fuzz/parse_expand_fuzzer, kept as unit tests so the fixes stay fixed.
// Each test names the sanitizer report it reproduced.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "frontend/dump_ast.h"
#include "frontend/parser.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {
namespace {

// ASan stack-buffer-underflow in utf8::decode: ${NAME%pat} / ${NAME#pat} on an unset NAME
// dereferenced the empty optional holding its value. Upstream trims the empty string.
TEST(FuzzRegressions, PatternTrimOfUnsetVariable) {
    const Environment env{{"SET", "abc"}};
    const ShellLex lex;
    for (const char* word : {"${UNSET%x}", "${UNSET%%x}", "${UNSET#x}", "${UNSET##x}", "${UNSET%*}",
                             "${UNSET#\\\\}", "${1%pat}", "${@#pat}"}) {
        SCOPED_TRACE(word);
        EXPECT_EQ(lex.process_word(word, env), "");
        EXPECT_EQ(lex.process_words(word, env), std::vector<std::string>{});
    }
    EXPECT_EQ(lex.process_word("a${UNSET%c}b", env), "ab");
    EXPECT_EQ(lex.process_word("${SET%c}", env), "ab");

    ShellLexOptions skip;
    skip.skip_unset_env = true;
    EXPECT_EQ(ShellLex('\\', skip).process_word("${UNSET%x}${UNSET##y}", env),
              "${UNSET%x}${UNSET##y}");

    const auto r = lex.process_word_with_matches("${UNSET%x}", env);
    EXPECT_EQ(r.unmatched, std::set<std::string>{"UNSET"});
}

// The same through the parser, as the fuzzer reached it: a CMD argument in shell form.
TEST(FuzzRegressions, PatternTrimOfUnsetVariableInDockerfile) {
    const ParseResult parsed = parse_dockerfile("FROM scratch\nCMD \"[\\\"${X%y}\\\"]\"\n");
    ASSERT_EQ(parsed.children.size(), 2u);
    ASSERT_EQ(parsed.children[1].args.size(), 1u);
    EXPECT_EQ(ShellLex(parsed.escape).process_word(parsed.children[1].args[0], Environment{}),
              "[\"\"]");
}

}  // namespace
}  // namespace kiln::frontend
