// Word expansion: BuildKit's shell conformance files (envVarTest, wordsTest), read exactly as
// testdata/conformance/buildkit/README.md sections 4 and 5 describe, plus single behaviours.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/shell_lex.h"

namespace kiln::frontend {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        const size_t p = s.find(sep, start);
        if (p == std::string_view::npos) {
            out.emplace_back(s.substr(start));
            return out;
        }
        out.emplace_back(s.substr(start, p - start));
        start = p + 1;
    }
}

// Go's strings.TrimSpace for the ASCII whitespace the data files use.
std::string trim(std::string_view s) {
    const char* ws = " \t\n\v\f\r";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) {
        return "";
    }
    return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

std::string trim_leading_spaces(std::string_view s) {
    const size_t b = s.find_first_not_of(' ');
    return b == std::string_view::npos ? "" : std::string(s.substr(b));
}

std::string shell_dir() {
    return std::string(KILN_TESTDATA_DIR) + "/conformance/buildkit/shell/";
}

struct Counts {
    int run = 0;
    int passed = 0;
    std::vector<std::string> skipped;
};

void run_env_var_test(Counts& counts) {
    const std::string data = read_file(shell_dir() + "envVarTest");
    const Environment env{{"PWD", "/home"}, {"SHELL", "bash"}, {"KOREAN", "한국어"}, {"NULL", ""}};
    const ShellLex lex('\\');
    int line_no = 0;
    for (const std::string& raw : split(data, '\n')) {
        ++line_no;
        if (!raw.empty() && raw[0] == '#') {
            continue;
        }
        const std::string line = trim(raw);
        if (line.empty()) {
            continue;
        }
        const auto fields = split(line, '|');
        ASSERT_EQ(fields.size(), 3u) << "envVarTest:" << line_no << ": malformed line";
        const std::string tag = trim(fields[0]);
        const std::string input = trim(fields[1]);
        const std::string expected = trim(fields[2]);
        ASSERT_TRUE(tag == "A" || tag == "U" || tag == "W")
            << "envVarTest:" << line_no << ": bad tag " << tag;
        const std::string name = "envVarTest:" + std::to_string(line_no) + " " + input;
        if (tag == "W") {
            counts.skipped.push_back(name + " (Windows only)");
            continue;
        }
        ++counts.run;
        if (expected == "error") {
            try {
                const std::string got = lex.process_word(input, env);
                ADD_FAILURE() << name << ": expected an error, got \"" << got << "\"";
            } catch (const ExpansionError&) {
                ++counts.passed;
            }
            continue;
        }
        try {
            const std::string got = lex.process_word(input, env);
            EXPECT_EQ(got, expected) << name;
            if (got == expected) {
                ++counts.passed;
            }
        } catch (const ExpansionError& e) {
            ADD_FAILURE() << name << ": unexpected error: " << e.what();
        }
    }
}

void run_words_test(Counts& counts) {
    const std::string data = read_file(shell_dir() + "wordsTest");
    Environment env;
    const ShellLex lex('\\');
    const auto lines = split(data, '\n');
    int line_no = 0;
    for (const std::string& raw : lines) {
        ++line_no;
        if (!raw.empty() && raw[0] == '#') {
            continue;
        }
        if (raw.rfind("ENV ", 0) == 0) {
            const std::string def = trim_leading_spaces(std::string_view(raw).substr(3));
            const size_t eq = def.find('=');
            ASSERT_NE(eq, std::string::npos) << "wordsTest:" << line_no;
            env.set(def.substr(0, eq), def.substr(eq + 1));
            continue;
        }
        if (raw.empty() && line_no == static_cast<int>(lines.size())) {
            continue;  // the split after the file's final newline
        }
        const auto fields = split(raw, '|');
        ASSERT_EQ(fields.size(), 2u) << "wordsTest:" << line_no << ": malformed line";
        const std::string input = trim(fields[0]);
        const std::vector<std::string> expected = split(trim_leading_spaces(fields[1]), ',');
        const std::string name = "wordsTest:" + std::to_string(line_no) + " " + input;
        ++counts.run;
        std::vector<std::string> got;
        try {
            got = lex.process_words(input, env);
        } catch (const ExpansionError&) {
            got = {"error"};
        }
        EXPECT_EQ(got, expected) << name;
        if (got == expected) {
            ++counts.passed;
        }
    }
}

TEST(ShellLexConformance, EnvVarTestAndWordsTest) {
    Counts counts;
    run_env_var_test(counts);
    run_words_test(counts);
    for (const std::string& s : counts.skipped) {
        std::cout << "skipped: " << s << "\n";
    }
    std::cout << "shell conformance: " << counts.run << " run, " << counts.passed << " passed, "
              << counts.skipped.size() << " skipped\n";
    // 228 envVarTest cases (226 A + 2 U) and 24 wordsTest cases; the 2 W cases are skipped.
    EXPECT_EQ(counts.run, 228 + 24);
    EXPECT_EQ(counts.skipped.size(), 2u);
    EXPECT_EQ(counts.passed, counts.run);
}

std::string expand(std::string_view word, const Environment& env, char escape = '\\') {
    return ShellLex(escape).process_word(word, env);
}

std::string error_of(std::string_view word, const Environment& env, ShellLexOptions opts = {}) {
    try {
        const std::string got = ShellLex('\\', opts).process_word(word, env);
        return "no error, got: " + got;
    } catch (const ExpansionError& e) {
        return e.what();
    }
}

TEST(ShellLex, BacktickEscape) {
    const Environment env{{"PWD", "/home"}};
    EXPECT_EQ(expand("he`$PWD", env, '`'), "he$PWD");
    EXPECT_EQ(expand("C:\\dir\\$PWD", env, '`'), "C:\\dir\\/home");  // backslash is literal
    EXPECT_EQ(expand("\"a`\"b\"", env, '`'), "a\"b");
    EXPECT_EQ(expand("\"a\\b\"", env, '`'), "a\\b");
    EXPECT_EQ(expand("a` b", env, '`'), "a b");
    EXPECT_EQ(ShellLex('`').process_words("a` b c", env), (std::vector<std::string>{"a b", "c"}));
    EXPECT_THROW(ShellLex('x'), std::invalid_argument);
}

TEST(ShellLex, RequiredVariableErrors) {
    const std::string word = "${VAR:?message here$ARG}";
    const std::string word2 = "${VAR?message here$ARG}";
    EXPECT_EQ(expand(word, {{"VAR", "plain"}, {"ARG", "x"}}), "plain");
    EXPECT_NE(error_of(word, {{"VAR", ""}, {"ARG", "x"}}).find("message herex"), std::string::npos);
    EXPECT_NE(error_of(word, {{"ARG", "x"}}).find("message herex"), std::string::npos);
    EXPECT_EQ(expand(word2, {{"VAR", "plain"}, {"ARG", "x"}}), "plain");
    EXPECT_EQ(expand(word2, {{"VAR", ""}, {"ARG", "x"}}), "");
    EXPECT_NE(error_of(word2, {{"ARG", "x"}}).find("message herex"), std::string::npos);
    EXPECT_EQ(error_of("${X?}", {}), "failed to process \"${X?}\": X: is not allowed to be unset");
    EXPECT_EQ(error_of("${X:?}", {{"X", ""}}),
              "failed to process \"${X:?}\": X: is not allowed to be empty");
}

TEST(ShellLex, SyntaxErrors) {
    EXPECT_NE(error_of("a'b", {}).find("matching single-quote"), std::string::npos);
    EXPECT_NE(error_of("a\"b", {}).find("matching double-quote"), std::string::npos);
    EXPECT_NE(error_of("${}", {}).find("bad substitution"), std::string::npos);
    EXPECT_NE(error_of("${X", {}).find("missing '}'"), std::string::npos);
    EXPECT_NE(error_of("${X:=1}", {}).find("unsupported modifier (:=)"), std::string::npos);
    EXPECT_NE(error_of("${X/a", {}).find("missing '/'"), std::string::npos);
    EXPECT_NE(error_of("${X#\\a}", {{"X", "a"}}).find("invalid pattern"), std::string::npos);
    // An error inside an untaken alternative is still an error (upstream expands it first).
    EXPECT_NE(error_of("${X:-${Y?no}}", {{"X", "1"}}).find("Y: no"), std::string::npos);
}

TEST(ShellLex, PatternOperators) {
    EXPECT_EQ(expand("${FOO#*x*y}", {{"FOO", "xxyy"}}), "y");
    EXPECT_EQ(expand("${FOO##*x}", {{"FOO", "xxyy"}}), "yy");
    EXPECT_EQ(expand("${FOO%%\\**}", {{"FOO", "xx**"}}), "xx");
    EXPECT_EQ(expand("${FOO%y*}", {{"FOO", "xyxy"}}), "xyx");
    EXPECT_EQ(expand("${FOO%%y*}", {{"FOO", "xyxy"}}), "x");
    EXPECT_EQ(expand("${FOO#?}", {{"FOO", "한국어"}}), "국어");
    EXPECT_EQ(expand("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
                     {{"FOO", "/foo*/*/*.txt"}, {"NEEDLE", "\\*/"}}),
              "/foo.*/*.txt - /foo..*.txt");
    EXPECT_EQ(expand("${FOO//\\//\\/}", {{"FOO", "/tmp/foo.txt"}}), "\\/tmp\\/foo.txt");
    EXPECT_EQ(expand("${FOO//o/0}", {{"FOO", "foo boo"}}), "f00 b00");
    EXPECT_EQ(expand("${FOO/o*/X}", {{"FOO", "foo boo"}}), "fX");
    EXPECT_EQ(expand("${FOO/x/y}", {}), "");
    for (const char* bad : {"${FOO:#}", "${FOO:%}", "${FOO=aaa}", "${FOO//}"}) {
        EXPECT_NE(error_of(bad, {{"FOO", "x"}}).find("failed to process"), std::string::npos)
            << bad;
    }
}

TEST(ShellLex, PlatformNameExample) {
    const std::string word =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    EXPECT_EQ(expand(word, {{"VERSION", "v1.2.3"},
                            {"TARGETOS", "linux"},
                            {"TARGETARCH", "arm"},
                            {"TARGETVARIANT", "v7"}}),
              "something-v1.2.3.linux-arm-v7.tar.gz");
    EXPECT_EQ(expand(word, {{"VERSION", "v1.2.3"},
                            {"TARGETOS", "linux"},
                            {"TARGETARCH", "arm64"},
                            {"TARGETVARIANT", ""}}),
              "something-v1.2.3.linux-arm64.tar.gz");
    EXPECT_EQ(expand(word, {{"VERSION", "v1.2.3"}, {"TARGETOS", "linux"}, {"TARGETARCH", "arm64"}}),
              "something-v1.2.3.linux-arm64.tar.gz");
}

TEST(ShellLex, MatchesAndUnmatched) {
    const Environment env{{"A", "1"}, {"EMPTY", ""}};
    const auto r = ShellLex().process_word_with_matches("$A ${EMPTY} ${B:-$C} $1", env);
    EXPECT_EQ(r.result, "1   ");
    EXPECT_EQ(r.matched, (std::set<std::string>{"A", "EMPTY"}));
    EXPECT_EQ(r.unmatched, (std::set<std::string>{"B", "C", "1"}));
    EXPECT_EQ(r.words, (std::vector<std::string>{"1"}));
}

TEST(ShellLex, Options) {
    const Environment env{{"A", "1"}};
    ShellLexOptions skip;
    skip.skip_unset_env = true;
    EXPECT_EQ(ShellLex('\\', skip).process_word("$A $B ${C} ${D:-x} ${E//a/b}", env),
              "1 $B ${C} ${D:-x} ${E//a/b}");
    ShellLexOptions raw_quotes;
    raw_quotes.raw_quotes = true;
    EXPECT_EQ(ShellLex('\\', raw_quotes).process_word("'a b' \"$A\"", env), "'a b' \"1\"");
    ShellLexOptions raw_escapes;
    raw_escapes.raw_escapes = true;
    EXPECT_EQ(ShellLex('\\', raw_escapes).process_word("a\\ b\\$A", env), "a\\ b\\$A");
    ShellLexOptions no_quotes;
    no_quotes.skip_process_quotes = true;
    EXPECT_EQ(ShellLex('\\', no_quotes).process_word("'$A'", env), "'1'");
}

TEST(ShellLex, EnvironmentLastWins) {
    Environment env = Environment::from_strings({"A=1", "B", "A=2=3"});
    EXPECT_EQ(env.get("A"), "2=3");
    EXPECT_EQ(env.get("B"), "");
    EXPECT_FALSE(env.get("C").has_value());
    EXPECT_EQ(env.entries().size(), 2u);
    EXPECT_EQ(env.entries()[0].first, "A");
    EXPECT_TRUE(env.erase("A"));
    EXPECT_FALSE(env.get("A").has_value());
}

}  // namespace
}  // namespace kiln::frontend
