#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/dockerfile_error.h"
#include "frontend/dump_ast.h"
#include "frontend/parser.h"

namespace kiln::frontend {
namespace {

namespace fs = std::filesystem;

const fs::path kBuildkit = fs::path(KILN_TESTDATA_DIR) / "conformance" / "buildkit";

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<fs::path> case_dirs(const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(root)) {
        if (e.is_directory()) {
            out.push_back(e.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The error message of parsing text, or "" if it parsed.
std::string parse_error(std::string_view text) {
    try {
        parse_dockerfile(text);
    } catch (const DockerfileError& e) {
        return e.message();
    }
    return {};
}

// ---- conformance data -----------------------------------------------------------------

TEST(ParserConformance, AllPositiveCasesMatchResultByteForByte) {
    const auto dirs = case_dirs(kBuildkit / "parser");
    ASSERT_EQ(dirs.size(), 33u);
    int run = 0, passed = 0;
    for (const auto& dir : dirs) {
        const std::string name = dir.filename().string();
        ++run;
        std::string got;
        try {
            got = dump_ast(parse_dockerfile(read_file(dir / "Dockerfile")));
        } catch (const std::exception& e) {
            ADD_FAILURE() << name << ": parse failed: " << e.what();
            continue;
        }
        const std::string want = read_file(dir / "result");
        EXPECT_EQ(got, want) << "case " << name;
        if (got == want) {
            ++passed;
        }
    }
    std::cout << "parser conformance: " << run << " run, " << passed << " passed\n";
    EXPECT_EQ(run, passed);
}

TEST(ParserConformance, AllNegativeCasesFail) {
    const auto dirs = case_dirs(kBuildkit / "parser-negative");
    ASSERT_EQ(dirs.size(), 4u);
    int run = 0, passed = 0;
    for (const auto& dir : dirs) {
        ++run;
        try {
            parse_dockerfile(read_file(dir / "Dockerfile"));
            ADD_FAILURE() << dir.filename() << " parsed but must fail";
        } catch (const DockerfileError&) {
            ++passed;
        }
    }
    std::cout << "parser negative: " << run << " run, " << passed << " passed\n";
    EXPECT_EQ(run, passed);
}

TEST(ParserConformance, NegativeCaseMessages) {
    EXPECT_EQ(parse_error(""), "file with no instructions");
    EXPECT_EQ(parse_error("# Hello\n# only comments\n\n"), "file with no instructions");
    EXPECT_EQ(parse_error("FROM busybox\n\nENV PATH\n"), "ENV must have two arguments");
    EXPECT_EQ(parse_error("CMD [ \"echo\", [ \"nested json\" ] ]\n"),
              "when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(ParserConformance, LineInfo) {
    auto r = parse_dockerfile(read_file(kBuildkit / "parser-lineinfo" / "Dockerfile"));
    EXPECT_EQ(r.start_line, 5);
    EXPECT_EQ(r.end_line, 31);
    ASSERT_EQ(r.children.size(), 3u);
    EXPECT_EQ(r.children[0].keyword, "from");
    EXPECT_EQ(r.children[0].start_line, 5);
    EXPECT_EQ(r.children[0].end_line, 5);
    EXPECT_EQ(r.children[1].keyword, "env");
    EXPECT_EQ(r.children[1].start_line, 11);
    EXPECT_EQ(r.children[1].end_line, 12);
    EXPECT_EQ(r.children[2].keyword, "run");
    EXPECT_EQ(r.children[2].start_line, 17);
    EXPECT_EQ(r.children[2].end_line, 31);
    EXPECT_EQ(r.directives.at("escape"), "\\");
}

// ---- logical lines ------------------------------------------------------------------------

TEST(ParserLines, EmptyContinuationWarnings) {
    const char* text =
        "FROM alpine:3.6\n"
        "RUN valid \\\n"
        "    continuation\n"
        "RUN something \\\n"
        "\n"
        "    following \\\n"
        "\n"
        "    more\n"
        "RUN another \\\n"
        "\n"
        "    thing\n"
        "RUN non-indented \\\n"
        "# this is a comment\n"
        "   after-comment\n"
        "RUN indented \\\n"
        "    # this is an indented comment\n"
        "    comment\n";
    auto r = parse_dockerfile(text);
    ASSERT_EQ(r.warnings.size(), 2u);
    EXPECT_NE(r.warnings[0].short_msg.find("Empty continuation line found in"), std::string::npos);
    EXPECT_NE(r.warnings[0].short_msg.find("RUN something     following     more"),
              std::string::npos);
    EXPECT_NE(r.warnings[1].short_msg.find("RUN another     thing"), std::string::npos);
    EXPECT_NE(r.warnings[0].detail.find("will become errors in a future release"),
              std::string::npos);
    EXPECT_EQ(r.warnings[0].line, 8);
    EXPECT_EQ(r.warnings[1].line, 11);
    ASSERT_EQ(r.children.size(), 6u);
    EXPECT_EQ(r.children[4].args, std::vector<std::string>{"non-indented    after-comment"});
    EXPECT_EQ(r.children[5].args, std::vector<std::string>{"indented     comment"});
}

TEST(ParserLines, LineOf65535BytesIsAccepted) {
    std::string text = "RUN " + std::string(65535 - 4, 'x') + "\n";
    EXPECT_NO_THROW(parse_dockerfile(text));
}

TEST(ParserLines, LineOf65536BytesIsRejected) {
    std::string text = "FROM a\nRUN " + std::string(65536 - 4, 'x') + "\n";
    try {
        parse_dockerfile(text);
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.message(), "dockerfile line greater than max allowed size of 65535");
        EXPECT_EQ(e.line(), 2);
    }
}

// Every instruction becomes a node, a step and a key: a file of millions of one-word
// lines (10 MB) cost seconds and gigabytes before this limit.
TEST(ParserLines, MoreThan10000InstructionsAreRefusedAtTheFirstOneOver) {
    std::string text = "FROM a\n";
    for (size_t i = 1; i < kMaxInstructions; ++i) {
        text += "# note\nRUN b\n";
    }
    EXPECT_EQ(parse_dockerfile(text).children.size(), kMaxInstructions);
    text += "\n  RUN c\n";
    try {
        parse_dockerfile(text);
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.message(), "more than 10000 instructions");
        EXPECT_EQ(e.line(), 2 * static_cast<int>(kMaxInstructions) + 1);
        EXPECT_NE(e.context().find(">>>   RUN c"), std::string::npos) << e.context();
    }
}

// The kernel runs no argument string over 128 KiB; a 10 MB instruction made of
// continuation lines cost a second and 440 MB (COPY of millions of sources).
TEST(ParserLines, AnInstructionOver1MiBOnceJoinedIsRefused) {
    std::string text = "FROM a\nCOPY \\\n";
    const std::string part = std::string(60000, 'x') + " \\\n";
    for (int i = 0; i < 17; ++i) {
        text += part;
    }
    EXPECT_NO_THROW(parse_dockerfile(text + "/dst/\n"));
    text += part;
    try {
        parse_dockerfile(text + "/dst/\n");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.message(),
                  "instruction longer than 1048576 bytes with its continuation lines joined");
        EXPECT_EQ(e.line(), 2);
        EXPECT_EQ(e.end_line(), 20);
    }
}

TEST(ParserLines, LongLineWithoutFinalNewlineIsRejected) {
    EXPECT_NE(parse_error("RUN " + std::string(70000, 'x')), "");
}

TEST(ParserLines, CrLfLineEndingsAreRemoved) {
    auto r = parse_dockerfile("FROM a\r\nRUN b \\\r\n  c\r\n");
    EXPECT_EQ(dump_ast(r), "(from \"a\")\n(run \"b   c\")\n");
}

TEST(ParserLines, ByteOrderMarkIsDropped) {
    auto r = parse_dockerfile("\xEF\xBB\xBF# escape=`\nFROM a `\n  b\n");
    EXPECT_EQ(r.escape, '`');
    EXPECT_EQ(dump_ast(r), "(from \"a\" \"b\")\n");
}

TEST(ParserLines, KeywordsAreCaseInsensitive) {
    auto r = parse_dockerfile("FrOm a\nfrom b\nFROM c\n");
    EXPECT_EQ(dump_ast(r), "(from \"a\")\n(from \"b\")\n(from \"c\")\n");
}

TEST(ParserLines, HashInsideLineIsNotAComment) {
    auto r = parse_dockerfile("RUN echo # not a comment\n");
    EXPECT_EQ(r.children[0].args, std::vector<std::string>{"echo # not a comment"});
}

TEST(ParserLines, DoubledEscapeAtEndIsNotAContinuation) {
    auto r = parse_dockerfile("ENV C a\\\\\nENV D b\n");
    ASSERT_EQ(r.children.size(), 2u);
    EXPECT_EQ(r.children[0].args[1], "a\\\\");
}

TEST(ParserLines, ContinuationAtEndOfFile) {
    auto r = parse_dockerfile("FROM a\nRUN x \\");
    EXPECT_EQ(r.children[1].args, std::vector<std::string>{"x"});
    EXPECT_EQ(r.children[1].end_line, 2);
}

TEST(ParserLines, OriginalIsTheJoinedLogicalLine) {
    auto r = parse_dockerfile("  RUN a \\\n  b\n");
    EXPECT_EQ(r.children[0].original, "RUN a   b");
}

TEST(ParserLines, ColumnIsWhereTheKeywordStarts) {
    auto r = parse_dockerfile("FROM a\n    RUN b\n\tCOPY c d\n");
    EXPECT_EQ(r.children[0].column, 1);
    EXPECT_EQ(r.children[1].column, 5);
    EXPECT_EQ(r.children[2].column, 2);
}

TEST(ParserLines, CommentsAboveAnInstruction) {
    auto r = parse_dockerfile("# first\n# second\nFROM a\n#\n# only this\nRUN b\nRUN c\n");
    EXPECT_EQ(r.children[0].comments, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(r.children[1].comments, std::vector<std::string>{"only this"});
    EXPECT_TRUE(r.children[2].comments.empty());
}

// ---- directives ---------------------------------------------------------------------------

TEST(ParserDirectives, AllThreeAreRecorded) {
    auto r =
        parse_dockerfile("# syntax=docker/dockerfile:1\n#ESCAPE = `\n# check=skip=all  \nFROM a\n");
    EXPECT_EQ(r.directives.at("syntax"), "docker/dockerfile:1");
    EXPECT_EQ(r.directives.at("escape"), "`");
    EXPECT_EQ(r.directives.at("check"), "skip=all");
    EXPECT_EQ(r.escape, '`');
}

TEST(ParserDirectives, RepeatedDirectiveIsAnError) {
    try {
        parse_dockerfile("# escape=\\\n# escape=`\nFROM a\n");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.message(), "only one escape parser directive can be used");
        EXPECT_EQ(e.line(), 2);
    }
}

TEST(ParserDirectives, InvalidEscapeIsAnError) {
    EXPECT_EQ(parse_error("# escape=x\nFROM a\n"),
              "invalid escape token 'x' does not match ` or \\");
}

TEST(ParserDirectives, NotAtTopIsAComment) {
    auto r = parse_dockerfile("FROM a\n# escape=`\nRUN b \\\n c\n");
    EXPECT_EQ(r.escape, '\\');
    EXPECT_TRUE(r.directives.empty());
    EXPECT_EQ(r.children[1].args, std::vector<std::string>{"b  c"});
}

TEST(ParserDirectives, UnknownDirectiveEndsScanning) {
    auto r = parse_dockerfile("# foo=bar\n# escape=`\nFROM a\n");
    EXPECT_TRUE(r.directives.empty());
    EXPECT_EQ(r.escape, '\\');
}

TEST(ParserDirectives, BlankLineEndsScanning) {
    auto r = parse_dockerfile("\n# escape=`\nFROM a\n");
    EXPECT_EQ(r.escape, '\\');
}

TEST(ParserDirectives, BacktickEscapeDisablesBackslashContinuation) {
    auto r = parse_dockerfile("# escape=`\nRUN dir c:\\\nRUN b\n");
    ASSERT_EQ(r.children.size(), 2u);
    EXPECT_EQ(r.children[0].args, std::vector<std::string>{"dir c:\\"});
}

// ---- arguments ----------------------------------------------------------------------------

TEST(ParserWords, ReadmeCases) {
    using V = std::vector<std::string>;
    EXPECT_EQ(split_words("foo"), V{"foo"});
    EXPECT_EQ(split_words("foo bar"), (V{"foo", "bar"}));
    EXPECT_EQ(split_words("foo\\ bar"), V{"foo\\ bar"});
    EXPECT_EQ(split_words("foo=bar"), V{"foo=bar"});
    EXPECT_EQ(split_words("foo bar 'abc xyz'"), (V{"foo", "bar", "'abc xyz'"}));
    EXPECT_EQ(split_words("foo bar \"abc xyz\""), (V{"foo", "bar", "\"abc xyz\""}));
    EXPECT_EQ(split_words("\xc3\xa0\xc3\xb6\xc3\xbb"), V{"\xc3\xa0\xc3\xb6\xc3\xbb"});
    EXPECT_EQ(split_words("f\xc3\xb6o b\xc3\xa0r \"\xc3\xa2"
                          "bc x\xc3\xbfz\""),
              (V{"f\xc3\xb6o", "b\xc3\xa0r",
                 "\"\xc3\xa2"
                 "bc x\xc3\xbfz\""}));
}

TEST(ParserWords, BacktickEscape) {
    using V = std::vector<std::string>;
    EXPECT_EQ(split_words("a` b c", '`'), (V{"a` b", "c"}));
    EXPECT_EQ(split_words("a\\ b", '`'), (V{"a\\", "b"}));
}

TEST(ParserArgs, EnvKeyValueErrorNamesTheWord) {
    EXPECT_EQ(parse_error("ENV a=b c\n"),
              "Syntax error - can't find = in \"c\". Must be of the form: name=value");
}

TEST(ParserArgs, LabelWithoutValue) {
    EXPECT_EQ(parse_error("LABEL foo\n"), "LABEL must have two arguments");
}

TEST(ParserArgs, EmptyInstructionsHaveNoArguments) {
    auto r = parse_dockerfile("ENV\nARG\nRUN\nFROM\nUSER\nCOPY\nHEALTHCHECK\n");
    EXPECT_EQ(dump_ast(r), "(env)\n(arg)\n(run)\n(from)\n(user)\n(copy)\n(healthcheck)\n");
}

TEST(ParserArgs, JsonFormIsMarked) {
    auto r = parse_dockerfile("RUN [\"a\", \"b\"]\nRUN a b\nHEALTHCHECK CMD [\"x\"]\n");
    EXPECT_TRUE(r.children[0].json_form);
    EXPECT_FALSE(r.children[1].json_form);
    EXPECT_TRUE(r.children[2].json_form);
}

TEST(ParserArgs, JsonWithTrailingTextUsesTheArray) {
    // Go's json.Decoder reads the first value and ignores what follows; BuildKit relies on it.
    auto r = parse_dockerfile("CMD [\"a\"] trailing\n");
    EXPECT_TRUE(r.children[0].json_form);
    EXPECT_EQ(r.children[0].args, std::vector<std::string>{"a"});
}

TEST(ParserArgs, JsonNumbersAndNullAreErrors) {
    EXPECT_NE(parse_error("CMD [\"a\", 1]\n"), "");
    EXPECT_NE(parse_error("CMD [null]\n"), "");
    EXPECT_NE(parse_error("COPY [{\"a\": true}]\n"), "");
}

TEST(ParserArgs, InvalidJsonFallsBackToShellForm) {
    auto r = parse_dockerfile("CMD [\"a\", 1\nCOPY [a] b\n");
    EXPECT_EQ(dump_ast(r), "(cmd \"[\\\"a\\\", 1\")\n(copy \"[a]\" \"b\")\n");
}

TEST(ParserArgs, JsonUnicodeEscapes) {
    auto r = parse_dockerfile("CMD [\"\\u00e9\\ud83d\\ude00\\ud800\"]\n");
    EXPECT_EQ(r.children[0].args[0], "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
}

TEST(ParserArgs, DeeplyNestedJsonIsAnErrorNotACrash) {
    // Valid JSON (so a non-string element) up to Go's nesting limit; deeper is not JSON.
    const std::string deep = "CMD [" + std::string(5000, '[') + std::string(5000, ']') + "]\n";
    EXPECT_EQ(parse_error(deep),
              "when using JSON array syntax, arrays must be comprised of strings only");
    const std::string too_deep =
        "CMD [" + std::string(20000, '[') + std::string(20000, ']') + "]\n";
    auto r = parse_dockerfile(too_deep);
    EXPECT_FALSE(r.children[0].json_form);
}

TEST(ParserArgs, EnvKeepsQuotesAndEscapesInValues) {
    auto r = parse_dockerfile("ENV a=\"x y\" b='$c' d=e\\ f\n");
    EXPECT_EQ(r.children[0].args,
              (std::vector<std::string>{"a", "\"x y\"", "=", "b", "'$c'", "=", "d", "e\\ f", "="}));
}

TEST(ParserArgs, ArgWords) {
    auto r = parse_dockerfile("ARG abc=\"123 456\" def\n");
    EXPECT_EQ(r.children[0].args, (std::vector<std::string>{"abc=\"123 456\"", "def"}));
}

TEST(ParserFlags, QuotesRemovedAndBackslashEscapes) {
    auto r = parse_dockerfile("COPY --chown=\"a b\" --x='y' --e=a\\ b src dst\n");
    EXPECT_EQ(r.children[0].flags, (std::vector<std::string>{"--chown=a b", "--x=y", "--e=a b"}));
    EXPECT_EQ(r.children[0].args, (std::vector<std::string>{"src", "dst"}));
}

TEST(ParserFlags, DoubleDashEndsFlags) {
    auto r = parse_dockerfile("COPY --a -- --b c\n");
    EXPECT_EQ(r.children[0].flags, std::vector<std::string>{"--a"});
    EXPECT_EQ(r.children[0].args, (std::vector<std::string>{"--b", "c"}));
}

TEST(ParserFlags, OnlyFlags) {
    auto r = parse_dockerfile("RUN --mount=type=cache,target=/x\n");
    EXPECT_EQ(r.children[0].flags, std::vector<std::string>{"--mount=type=cache,target=/x"});
    EXPECT_TRUE(r.children[0].args.empty());
}

TEST(ParserArgs, HealthcheckTypeAndCommand) {
    auto r = parse_dockerfile("HEALTHCHECK --interval=5s CMD curl -f http://x/ || exit 1\n");
    EXPECT_EQ(r.children[0].flags, std::vector<std::string>{"--interval=5s"});
    EXPECT_EQ(r.children[0].args, (std::vector<std::string>{"CMD", "curl -f http://x/ || exit 1"}));
}

TEST(ParserArgs, OnbuildNestsAnInstruction) {
    auto r = parse_dockerfile("ONBUILD RUN echo hi\n");
    ASSERT_TRUE(r.children[0].onbuild);
    EXPECT_EQ(r.children[0].onbuild->keyword, "run");
    EXPECT_EQ(r.children[0].onbuild->args, std::vector<std::string>{"echo hi"});
    EXPECT_TRUE(r.children[0].args.empty());
}

TEST(ParserArgs, OnbuildPropagatesNestedErrors) {
    EXPECT_EQ(parse_error("ONBUILD ENV x\n"), "ENV must have two arguments");
}

// ---- heredocs -----------------------------------------------------------------------------

const Node& only_run(const ParseResult& r) {
    for (const auto& n : r.children) {
        if (n.keyword == "run" || n.keyword == "copy" || n.keyword == "add" ||
            n.keyword == "onbuild") {
            return n;
        }
    }
    throw std::runtime_error("no RUN/COPY/ADD");
}

TEST(ParserHeredoc, Empty) {
    auto r = parse_dockerfile("FROM a\nRUN <<EMPTY\nEMPTY\n");
    const auto& n = only_run(r);
    ASSERT_EQ(n.heredocs.size(), 1u);
    EXPECT_EQ(n.heredocs[0].name, "EMPTY");
    EXPECT_EQ(n.heredocs[0].content, "");
    EXPECT_TRUE(n.heredocs[0].expand);
    EXPECT_FALSE(n.heredocs[0].chomp_tabs);
    EXPECT_EQ(n.end_line, 3);
}

TEST(ParserHeredoc, FileDescriptor) {
    auto r = parse_dockerfile("RUN 3<<EOF\nEOF\n");
    ASSERT_EQ(only_run(r).heredocs.size(), 1u);
    EXPECT_EQ(only_run(r).heredocs[0].file_descriptor, 3u);
}

TEST(ParserHeredoc, QuotedWordIsNotAHeredoc) {
    auto r = parse_dockerfile("RUN \"<<NOHEREDOC\"\nRUN '<<EOF'\n");
    EXPECT_TRUE(r.children[0].heredocs.empty());
    EXPECT_TRUE(r.children[1].heredocs.empty());
}

TEST(ParserHeredoc, OnlyRunCopyAddGetHeredocs) {
    auto r = parse_dockerfile("USER <<INVALID\nINVALID\n");
    ASSERT_EQ(r.children.size(), 2u);  // the body line is an instruction of its own
    EXPECT_TRUE(r.children[0].heredocs.empty());
    EXPECT_EQ(r.children[1].keyword, "invalid");
}

TEST(ParserHeredoc, ContentKeepsTabsWithoutDash) {
    auto r = parse_dockerfile("RUN <<INDENT\n\tfoo\n\tbar\nINDENT\n");
    EXPECT_EQ(only_run(r).heredocs[0].content, "\tfoo\n\tbar\n");
}

TEST(ParserHeredoc, DashAllowsIndentedTerminatorAndKeepsRawContent) {
    auto r = parse_dockerfile("RUN <<-UNINDENT2\n\tbaz\n\tquux\n\tUNINDENT2\nRUN next\n");
    const auto& d = r.children[0].heredocs.at(0);
    EXPECT_EQ(d.name, "UNINDENT2");
    EXPECT_EQ(d.content, "\tbaz\n\tquux\n");
    EXPECT_TRUE(d.chomp_tabs);
    EXPECT_EQ(chomp_heredoc_content(d.content), "baz\nquux\n");
    EXPECT_EQ(r.children.size(), 2u);
}

TEST(ParserHeredoc, IndentedTerminatorWithoutDashDoesNotEnd) {
    EXPECT_EQ(parse_error("RUN <<EOF\n\tEOF\n"), "unterminated heredoc");
}

TEST(ParserHeredoc, QuotedDelimiterDisablesExpansion) {
    auto r = parse_dockerfile("RUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n");
    const auto& d = only_run(r).heredocs.at(0);
    EXPECT_EQ(d.name, "NOEXPAND");
    EXPECT_FALSE(d.expand);
    EXPECT_EQ(d.content, "\tdon't expand $NAME\n");
}

TEST(ParserHeredoc, DoubleQuotedDelimiterDisablesExpansion) {
    auto r = parse_dockerfile("RUN <<\"EOF\"\n$x\nEOF\n");
    EXPECT_FALSE(only_run(r).heredocs.at(0).expand);
    EXPECT_EQ(only_run(r).heredocs.at(0).name, "EOF");
}

TEST(ParserHeredoc, CommentsInsideBodyAreContent) {
    auto r = parse_dockerfile("RUN <<COMMENT\n# internal\necho a # trailing\nCOMMENT\n");
    EXPECT_EQ(only_run(r).heredocs.at(0).content, "# internal\necho a # trailing\n");
}

TEST(ParserHeredoc, AfterFlags) {
    auto r = parse_dockerfile("RUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\n");
    EXPECT_EQ(only_run(r).heredocs.at(0).content, "echo hello\n");
    EXPECT_EQ(only_run(r).args, std::vector<std::string>{"<<MOUNT"});
}

TEST(ParserHeredoc, SeveralOnOneInstructionAreReadInOrder) {
    auto r = parse_dockerfile("COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n");
    const auto& n = only_run(r);
    ASSERT_EQ(n.heredocs.size(), 2u);
    EXPECT_EQ(n.heredocs[0].name, "FILE1");
    EXPECT_EQ(n.heredocs[0].content, "content 1\n");
    EXPECT_EQ(n.heredocs[1].name, "FILE2");
    EXPECT_EQ(n.heredocs[1].content, "content 2\n");
    EXPECT_EQ(n.args, (std::vector<std::string>{"<<FILE1", "<<FILE2", "/dest"}));
    EXPECT_EQ(n.end_line, 5);
}

TEST(ParserHeredoc, OtherDelimiterInsideBodyIsContent) {
    auto r = parse_dockerfile("COPY <<X <<Y /dest\nY\nX\nX\nY\n");
    const auto& n = only_run(r);
    EXPECT_EQ(n.heredocs.at(0).content, "Y\n");
    EXPECT_EQ(n.heredocs.at(1).content, "X\n");
}

TEST(ParserHeredoc, JsonFormHasNoHeredocs) {
    auto r = parse_dockerfile("RUN [\"<<EOF\"]\nRUN [\"<<'EOF'\"]\n");
    EXPECT_TRUE(r.children[0].heredocs.empty());
    EXPECT_TRUE(r.children[1].heredocs.empty());
}

TEST(ParserHeredoc, OnbuildAttachesToTheOnbuildNode) {
    auto r = parse_dockerfile("ONBUILD RUN <<EOF\necho hi\nEOF\nFROM a\n");
    ASSERT_EQ(r.children.size(), 2u);
    EXPECT_EQ(r.children[0].heredocs.at(0).content, "echo hi\n");
    EXPECT_TRUE(r.children[0].onbuild->heredocs.empty());
}

TEST(ParserHeredoc, UnterminatedIsAnErrorSpanningTheRest) {
    try {
        parse_dockerfile("FROM a\nRUN <<EOF\necho\n");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.message(), "unterminated heredoc");
        EXPECT_EQ(e.line(), 2);
        EXPECT_EQ(e.end_line(), 3);
    }
}

TEST(ParserHeredoc, CrLfTerminatorMatches) {
    auto r = parse_dockerfile("RUN <<EOF\r\nx\r\nEOF\r\n");
    EXPECT_EQ(only_run(r).heredocs.at(0).content, "x\r\n");
}

TEST(ParserHeredoc, BodyLinesAreNotDirectivesOrContinuations) {
    auto r = parse_dockerfile("RUN <<EOF\necho a \\\nEOF\nRUN b\n");
    ASSERT_EQ(r.children.size(), 2u);
    EXPECT_EQ(r.children[0].heredocs.at(0).content, "echo a \\\n");
}

TEST(ParserHeredoc, HelperRecognisesValidForms) {
    for (const char* src : {"<<EOF", "<<'EOF'", "<<\"EOF\"", "<<-EOF", "<<-'EOF'", "<<-\"EOF\""}) {
        auto d = parse_heredoc(src);
        ASSERT_TRUE(d.has_value()) << src;
        EXPECT_EQ(d->name, "EOF") << src;
    }
}

TEST(ParserHeredoc, HelperRejectsNonHeredocs) {
    for (const char* src : {"", "EOF", "<<", "<<-", "<EOF", "<<<EOF"}) {
        EXPECT_FALSE(parse_heredoc(src).has_value()) << src;
    }
}

TEST(ParserHeredoc, HelperThrowsForUnbalancedQuotes) {
    for (const char* src : {"<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""}) {
        EXPECT_THROW(parse_heredoc(src), DockerfileError) << src;
    }
}

TEST(ParserHeredoc, NamesFromLine) {
    auto names = [](std::string_view line) {
        std::vector<std::string> out;
        for (const auto& d : heredocs_from_line(line)) {
            out.push_back(d.name);
        }
        return out;
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(names("RUN <<EOF"), V{"EOF"});
    EXPECT_EQ(names("RUN <<-EOF"), V{"EOF"});
    EXPECT_EQ(names("RUN <<'EOF'"), V{"EOF"});
    EXPECT_EQ(names("RUN 4<<EOF"), V{"EOF"});
    EXPECT_EQ(names("RUN <<EOF <<EOF2"), (V{"EOF", "EOF2"}));
    EXPECT_EQ(names("RUN '<<EOF'"), V{});
    EXPECT_EQ(names("RUN \"<<EOF\""), V{});
    EXPECT_EQ(names("RUN python3 <<EOF > out"), V{"EOF"});
}

// ---- errors -------------------------------------------------------------------------------

TEST(ParserErrors, WhatHasFileAndLine) {
    try {
        parse_dockerfile("FROM a\n\nENV x\n", "sub/Dockerfile.dev");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_STREQ(e.what(), "sub/Dockerfile.dev:3: ENV must have two arguments");
        EXPECT_EQ(e.file(), "sub/Dockerfile.dev");
        EXPECT_EQ(e.line(), 3);
    }
}

TEST(ParserErrors, ContinuedInstructionReportsItsRange) {
    try {
        parse_dockerfile("FROM a\nENV \\\n  x\nRUN b\n");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.line(), 2);
        EXPECT_EQ(e.end_line(), 3);
        EXPECT_EQ(e.context(),
                  "--------------------\n"
                  "   1 |     FROM a\n"
                  "   2 | >>> ENV \\\n"
                  "   3 | >>>   x\n"
                  "   4 |     RUN b\n"
                  "--------------------\n");
    }
}

TEST(ParserErrors, NoInstructionsHasNoLine) {
    try {
        parse_dockerfile("\n\n");
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_STREQ(e.what(), "Dockerfile: file with no instructions");
        EXPECT_EQ(e.context(), "");
    }
}

TEST(ParserErrors, ContextPadsLikeBuildkit) {
    EXPECT_EQ(render_source_context("1\n2\n3\n4\n5\n6\n7\n8\n9\n", 5, 5),
              "--------------------\n"
              "   3 |     3\n"
              "   4 |     4\n"
              "   5 | >>> 5\n"
              "   6 |     6\n"
              "   7 |     7\n"
              "--------------------\n");
    EXPECT_EQ(render_source_context("a\nb", 1, 1),
              "--------------------\n"
              "   1 | >>> a\n"
              "   2 |     b\n"
              "--------------------\n");
    EXPECT_EQ(render_source_context("a\n", 9, 9), "");
}

// A megabyte line is shown cut to a terminal's width, never whole, and never
// inside a UTF-8 character.
TEST(ParserErrors, ALongLineIsCutInTheExcerpt) {
    const std::string long_line =
        "RUN " + std::string(155, 'x') + "\u00e9" + std::string(1 << 20, 'y');
    const std::string excerpt = render_source_context("FROM a\n" + long_line + "\n", 2, 2);
    const std::string shown = "RUN " + std::string(155, 'x') + "... (" +
                              std::to_string(long_line.size() - 159) + " more bytes)";
    EXPECT_NE(excerpt.find("   2 | >>> " + shown + "\n"), std::string::npos)
        << excerpt.substr(0, 400);
    EXPECT_LT(excerpt.size(), 500u);
}

// An instruction continued over thousands of lines is shown by its first 40 and last 10
// lines, not whole (BuildKit prints every one).
TEST(ParserErrors, ALongRangeShowsItsHeadAndTail) {
    std::string text = "FROM a\n";
    for (int i = 0; i < 200; ++i) {
        text += "RUN x \\\n";
    }
    text += "y\nCMD z\n";
    const std::string excerpt = render_source_context(text, 2, 202);
    EXPECT_EQ(excerpt.rfind("--------------------\n"
                            "   1 |     FROM a\n"
                            "   2 | >>> RUN x \\\n",
                            0),
              0u)
        << excerpt;
    EXPECT_NE(excerpt.find("  41 | >>> RUN x \\\n     | ... (151 more lines)\n 193 | >>> "),
              std::string::npos)
        << excerpt;
    EXPECT_NE(excerpt.find(" 202 | >>> y\n 203 |     CMD z\n---"), std::string::npos) << excerpt;
    EXPECT_EQ(std::count(excerpt.begin(), excerpt.end(), '\n'), 2 + 1 + 40 + 1 + 10 + 1);
    // 50 lines are shown whole.
    const std::string fifty = render_source_context(text, 2, 51);
    EXPECT_EQ(fifty.find("more lines"), std::string::npos);
    EXPECT_NE(fifty.find("  51 | >>> "), std::string::npos);
}

TEST(ParserErrors, UnknownInstructionWithSuggestion) {
    const std::string text = "FROM alpine\n\nRUN a\nRUN b\nRUN c\nRUN d\nRUNN x\n";
    auto r = parse_dockerfile(text);
    EXPECT_EQ(dump_ast(r).substr(dump_ast(r).rfind('(')), "(runn \"\")\n");
    try {
        check_instruction_names(r, "Dockerfile", text);
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_STREQ(e.what(), "Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)");
        EXPECT_EQ(e.context(),
                  "--------------------\n"
                  "   5 |     RUN c\n"
                  "   6 |     RUN d\n"
                  "   7 | >>> RUNN x\n"
                  "   8 |     \n"
                  "--------------------\n");
    }
}

TEST(ParserErrors, SuggestionFollowsCase) {
    EXPECT_EQ(suggest_instruction("RUNN"), "RUN");
    EXPECT_EQ(suggest_instruction("cpoy"), "copy");
    EXPECT_EQ(suggest_instruction("Workdri"), "WORKDIR");
    EXPECT_EQ(suggest_instruction("xyzzy"), std::nullopt);
    EXPECT_EQ(suggest_instruction("run"), std::nullopt);
}

TEST(ParserErrors, UnknownInstructionWithoutSuggestion) {
    auto r = parse_dockerfile("FROM a\nfrobnicate x\n");
    try {
        check_instruction_names(r);
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_STREQ(e.what(), "Dockerfile:2: unknown instruction: frobnicate");
    }
}

TEST(ParserErrors, UnknownInstructionInsideOnbuild) {
    auto r = parse_dockerfile("FROM a\nONBUILD CPY a b\n");
    try {
        check_instruction_names(r);
        FAIL() << "expected an error";
    } catch (const DockerfileError& e) {
        EXPECT_EQ(e.line(), 2);
        EXPECT_EQ(e.message(), "unknown instruction: CPY (did you mean COPY?)");
    }
}

TEST(ParserErrors, KnownInstructionsPass) {
    std::string text;
    for (const auto& k : known_instructions()) {
        text += k == "ONBUILD" ? std::string("ONBUILD RUN x\n") : k + " x=y\n";
    }
    auto r = parse_dockerfile("FROM a\nenv a=b\nOnBuild run x\n" + text);
    EXPECT_NO_THROW(check_instruction_names(r));
}

}  // namespace
}  // namespace kiln::frontend
