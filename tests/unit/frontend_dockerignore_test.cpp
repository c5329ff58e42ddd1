// .dockerignore: every case table of testdata/conformance/dockerignore.md, read from the
// markdown itself (so the data stays the source), plus the pruning and file-choice rules.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/dockerignore.h"

namespace kiln::frontend {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

std::string trim(std::string_view s) {
    const size_t b = s.find_first_not_of(' ');
    if (b == std::string_view::npos) {
        return "";
    }
    return std::string(s.substr(b, s.find_last_not_of(' ') - b + 1));
}

// One markdown table row: the cells between the outer pipes; `\|` is a literal `|`.
std::vector<std::string> cells_of(const std::string& row) {
    std::vector<std::string> cells;
    std::string cur;
    for (size_t i = 1; i < row.size(); ++i) {
        if (row[i] == '\\' && i + 1 < row.size() && row[i + 1] == '|') {
            cur += '|';
            ++i;
        } else if (row[i] == '|') {
            cells.push_back(trim(cur));
            cur.clear();
        } else {
            cur += row[i];
        }
    }
    return cells;
}

// The values written in a cell, in order: each `code span` (kept byte for byte, spaces
// included) and each *(empty)* (the empty string).
std::vector<std::string> values_of(const std::string& cell) {
    std::vector<std::string> out;
    for (size_t i = 0; i < cell.size();) {
        if (cell[i] == '`') {
            const size_t end = cell.find('`', i + 1);
            out.push_back(cell.substr(i + 1, end - i - 1));
            i = end + 1;
        } else if (cell.compare(i, 9, "*(empty)*") == 0) {
            out.emplace_back();
            i += 9;
        } else {
            ++i;
        }
    }
    return out;
}

struct Table {
    std::vector<std::vector<std::string>> rows;  // cells, first one is the case id
};

// Rows of the table whose case ids start with `letter` followed by a digit.
Table table(const std::vector<std::string>& lines, char letter) {
    Table t;
    for (const std::string& line : lines) {
        if (line.size() > 3 && line[0] == '|' && line[2] == letter && isdigit(line[3])) {
            t.rows.push_back(cells_of(line));
        }
    }
    return t;
}

struct Tally {
    int run = 0;
    int passed = 0;
    void check(bool ok, const std::string& id, const std::string& detail) {
        ++run;
        if (ok) {
            ++passed;
        } else {
            ADD_FAILURE() << id << ": " << detail;
        }
    }
};

std::string yn(bool b) {
    return b ? "yes" : "no";
}

// Evaluates a path three ways, as upstream's table-S test does: directly; incrementally,
// feeding each parent directory's results from the top down; incrementally with no parent
// information. Returns the answers.
std::vector<bool> three_ways(const PatternMatcher& pm, const std::string& path) {
    std::vector<bool> out;
    out.push_back(pm.matches(path));
    std::string parent;
    {
        const size_t slash = path.rfind('/');
        parent = clean_path(slash == std::string::npos ? "" : path.substr(0, slash + 1));
    }
    PatternMatcher::MatchInfo info;
    if (parent != ".") {
        size_t pos = 0;
        while (true) {
            const size_t slash = parent.find('/', pos);
            const std::string prefix = parent.substr(0, slash);
            PatternMatcher::MatchInfo next;
            pm.matches_using_parent_results(prefix, info, &next);
            info = std::move(next);
            if (slash == std::string::npos) {
                break;
            }
            pos = slash + 1;
        }
    }
    out.push_back(pm.matches_using_parent_results(path, info));
    out.push_back(pm.matches_using_parent_results(path, {}));
    return out;
}

TEST(DockerignoreConformance, AllTables) {
    const auto lines =
        lines_of(read_file(std::string(KILN_TESTDATA_DIR) + "/conformance/dockerignore.md"));
    Tally tally;

    // Table S: one pattern, path as written.
    const Table s = table(lines, 'S');
    EXPECT_EQ(s.rows.size(), 68u);
    for (const auto& row : s.rows) {
        const std::string pattern = values_of(row[1]).at(0);
        const std::string path = values_of(row[2]).at(0);
        const bool want = row[3] == "yes";
        const PatternMatcher pm({pattern});
        const auto got = three_ways(pm, path);
        tally.check(got[0] == want && got[1] == want && got[2] == want, row[0],
                    pattern + " vs " + path + ": want " + yn(want) + ", got " + yn(got[0]) + "/" +
                        yn(got[1]) + "/" + yn(got[2]));
    }

    // Table M: several patterns.
    const Table m = table(lines, 'M');
    EXPECT_EQ(m.rows.size(), 4u);
    for (const auto& row : m.rows) {
        const auto patterns = values_of(row[1]);
        const std::string path = values_of(row[2]).at(0);
        const bool want = row[3] == "yes";
        const PatternMatcher pm(patterns);
        const auto got = three_ways(pm, path);
        tally.check(
            got[0] == want && got[1] == want && got[2] == want, row[0],
            "want " + yn(want) + ", got " + yn(got[0]) + "/" + yn(got[1]) + "/" + yn(got[2]));
    }

    // Table D: list-level scenarios; rows say what they expect in words.
    const Table d = table(lines, 'D');
    EXPECT_EQ(d.rows.size(), 16u);
    for (const auto& row : d.rows) {
        const auto patterns = values_of(row[1]);
        const auto paths = values_of(row[2]);
        const std::string& expect = row[3];
        const std::string& id = row[0];
        if (expect.rfind("list holds ", 0) == 0) {
            const size_t n = std::stoul(expect.substr(11));
            tally.check(PatternMatcher(patterns).patterns().size() == n, id, expect);
        } else if (expect.rfind("has an exclusion", 0) == 0) {
            tally.check(PatternMatcher(patterns).has_exclusions(), id, expect);
        } else if (expect.rfind("constructing the list fails", 0) == 0) {
            bool threw = false;
            try {
                PatternMatcher pm(patterns);
            } catch (const PatternError& e) {
                threw =
                    std::string(e.what()).find("illegal exclusion pattern") != std::string::npos;
            }
            tally.check(threw, id, expect);
        } else if (expect.rfind("constructing succeeds, but every evaluation", 0) == 0) {
            int errors = 0;
            const PatternMatcher pm(patterns);
            for (int i = 0; i < 2; ++i) {
                try {
                    pm.matches(paths.at(0));
                } catch (const PatternError&) {
                    ++errors;
                }
            }
            tally.check(errors == 2, id, expect);
        } else {
            const bool want_error = expect.rfind("error", 0) == 0;
            const bool want = expect.rfind("ignored", 0) == 0;
            ASSERT_TRUE(want_error || want || expect.rfind("not ignored", 0) == 0) << id;
            bool got = false;
            bool got_error = false;
            try {
                got = matches_or_parent_matches(paths.at(0), patterns);
            } catch (const PatternError&) {
                got_error = true;
            }
            tally.check(got_error == want_error && got == want, id, expect);
        }
    }

    // Table G: filepath.Match-derived cases through the convenience function.
    const Table g = table(lines, 'G');
    EXPECT_EQ(g.rows.size(), 54u);
    for (const auto& row : g.rows) {
        const std::string pattern = values_of(row[1]).at(0);
        const std::string path = values_of(row[2]).at(0);
        const std::string& expect = row[3];
        const bool want_error = expect.rfind("bad pattern", 0) == 0;
        const bool want = expect.rfind("match", 0) == 0;
        ASSERT_TRUE(want_error || want || expect.rfind("no match", 0) == 0) << row[0];
        bool got = false;
        bool got_error = false;
        try {
            got = matches_or_parent_matches(path, {pattern});
        } catch (const PatternError&) {
            got_error = true;
        }
        tally.check(got_error == want_error && got == want, row[0],
                    pattern + " vs " + path + ": want " + expect);
    }

    // Table R: the reader, on the text in the section's code block (no final newline).
    {
        std::string text;
        bool in_block = false;
        bool seen_r = false;
        for (const std::string& line : lines) {
            if (line.rfind("## 6. Table R", 0) == 0) {
                seen_r = true;
            } else if (seen_r && line == "```") {
                if (in_block) {
                    break;
                }
                in_block = true;
            } else if (in_block) {
                text += (text.empty() ? "" : "\n") + line;
            }
        }
        const auto got = parse_dockerignore(text);
        const Table r = table(lines, 'R');
        EXPECT_EQ(r.rows.size(), 7u);
        EXPECT_EQ(got.size(), r.rows.size());
        for (size_t i = 0; i < r.rows.size(); ++i) {
            const std::string want = values_of(r.rows[i][1]).at(0);
            tally.check(i < got.size() && got[i] == want, r.rows[i][0], "want " + want);
        }
        tally.check(parse_dockerignore("").empty(), "R8", "empty content gives no patterns");
    }

    // Table K (informative): the exact/prefix/suffix/regex classification.
    const Table k = table(lines, 'K');
    EXPECT_EQ(k.rows.size(), 21u);
    const std::map<std::string, PatternMatcher::Kind> kinds = {
        {"exact", PatternMatcher::Kind::kExact},
        {"prefix", PatternMatcher::Kind::kPrefix},
        {"suffix", PatternMatcher::Kind::kSuffix},
        {"regex", PatternMatcher::Kind::kRegex}};
    for (const auto& row : k.rows) {
        const std::string pattern = values_of(row[1]).at(0);
        const PatternMatcher pm({pattern});
        tally.check(pm.kind(0) == kinds.at(row[2]), row[0], pattern + " should be " + row[2]);
    }

    std::cout << "dockerignore conformance: " << tally.run << " run, " << tally.passed
              << " passed\n";
    EXPECT_EQ(tally.passed, tally.run);
}

TEST(Dockerignore, ReaderDetails) {
    EXPECT_EQ(parse_dockerignore("\xEF\xBB\xBF"
                                 "a\r\n  # not a comment\n#comment\n./b/../c/\n!\t/d//e/\n/\n"),
              (std::vector<std::string>{"a", "# not a comment", "c", "!d/e", "/"}));
}

TEST(Dockerignore, CleanPath) {
    EXPECT_EQ(clean_path(""), ".");
    EXPECT_EQ(clean_path("a//b/./c/.."), "a/b");
    EXPECT_EQ(clean_path("../a/../.."), "../..");
    EXPECT_EQ(clean_path("/../a/"), "/a");
    EXPECT_EQ(clean_path("**/"), "**");
}

TEST(Dockerignore, PruningExcludedDirectories) {
    // No `!` pattern: nothing is ever re-included.
    const PatternMatcher plain({"node_modules", "*.log"});
    EXPECT_TRUE(plain.matches("node_modules"));
    EXPECT_FALSE(plain.may_reinclude_under("node_modules"));

    // A literal re-inclusion only forces walking the directories on its way.
    const PatternMatcher lit({"docs", "!docs/keep/README.md", "build"});
    EXPECT_TRUE(lit.matches("docs"));
    EXPECT_TRUE(lit.may_reinclude_under("docs"));
    EXPECT_TRUE(lit.may_reinclude_under("docs/keep"));
    EXPECT_FALSE(lit.may_reinclude_under("docs/other"));
    EXPECT_FALSE(lit.may_reinclude_under("build"));
    EXPECT_FALSE(lit.matches("docs/keep/README.md"));
    EXPECT_TRUE(lit.matches("docs/other/x"));

    // `!dir` re-includes a directory and everything below it; patterns with wildcards are
    // decided by running them on the prefix.
    const PatternMatcher wild({"**", "!src", "!*/keep/*.txt", "!**/important"});
    EXPECT_TRUE(wild.may_reinclude_under("anything"));  // **/important could be anywhere
    const PatternMatcher wild2({"**", "!src/*/keep", "!a?c/x"});
    EXPECT_TRUE(wild2.may_reinclude_under("src"));
    EXPECT_TRUE(wild2.may_reinclude_under("src/lib"));
    EXPECT_FALSE(wild2.matches("src/lib/keep"));  // re-included itself: never pruned
    EXPECT_FALSE(wild2.may_reinclude_under("src/lib/other"));
    EXPECT_FALSE(wild2.may_reinclude_under("vendor"));
    EXPECT_TRUE(wild2.may_reinclude_under("abc"));
    EXPECT_FALSE(wild2.may_reinclude_under("abcd"));
    EXPECT_TRUE(wild2.matches("src/lib/other/f"));
    EXPECT_FALSE(wild2.matches("src/lib/keep/f"));

    const PatternMatcher pre({"**", "!dist/**"});
    EXPECT_TRUE(pre.may_reinclude_under("dist"));
    EXPECT_FALSE(pre.may_reinclude_under("distx"));
    EXPECT_FALSE(pre.may_reinclude_under("other"));
}

// Checks may_reinclude_under() against brute force: whenever it says "false" for an ignored
// directory, every path below it (from a small universe) must be ignored.
TEST(Dockerignore, PruningIsSound) {
    const std::vector<std::vector<std::string>> lists = {
        {"a", "!a/b"},          {"**", "!a/*/c"},    {"*", "!*/b"},      {"a", "!a*"},
        {"**", "!**/c", "a/c"}, {"a/**", "!a/b/**"}, {"[ab]", "![a]/?"}, {"a", "!a/b", "a/b/c"},
    };
    const std::vector<std::string> names = {"a", "b", "c", "ab"};
    std::vector<std::string> universe = names;
    for (int depth = 0; depth < 2; ++depth) {
        std::vector<std::string> more;
        for (const auto& p : universe) {
            for (const auto& n : names) {
                more.push_back(p + "/" + n);
            }
        }
        universe.insert(universe.end(), more.begin(), more.end());
    }
    std::set<std::string> unique(universe.begin(), universe.end());
    for (const auto& list : lists) {
        const PatternMatcher pm(list);
        for (const auto& dir : unique) {
            if (!pm.matches(dir) || pm.may_reinclude_under(dir)) {
                continue;
            }
            for (const auto& p : unique) {
                if (p.rfind(dir + "/", 0) == 0) {
                    EXPECT_TRUE(pm.matches(p)) << "pruned " << dir << " but " << p
                                               << " is not ignored; list starts " << list[0];
                }
            }
        }
    }
}

TEST(Dockerignore, ChoosingTheIgnoreFile) {
    std::set<std::string> files;
    auto exists = [&](const std::string& p) { return files.count(p) > 0; };
    EXPECT_EQ(choose_dockerignore("ctx/Dockerfile", "ctx", exists), std::nullopt);
    files.insert("ctx/.dockerignore");
    EXPECT_EQ(choose_dockerignore("ctx/Dockerfile", "ctx", exists), "ctx/.dockerignore");
    EXPECT_EQ(choose_dockerignore("ctx/Dockerfile", "ctx/", exists), "ctx/.dockerignore");
    files.insert("build/app.Dockerfile.dockerignore");
    EXPECT_EQ(choose_dockerignore("build/app.Dockerfile", "ctx", exists),
              "build/app.Dockerfile.dockerignore");
    EXPECT_EQ(choose_dockerignore("build/other.Dockerfile", "ctx", exists), "ctx/.dockerignore");
    // A Dockerfile from stdin has no ignore file of its own.
    files.insert("-.dockerignore");
    EXPECT_EQ(choose_dockerignore("-", "ctx", exists), "ctx/.dockerignore");
    files.insert("ctx/Dockerfile.dockerignore");
    EXPECT_EQ(choose_dockerignore("ctx/Dockerfile", "ctx", exists), "ctx/Dockerfile.dockerignore");
}

// The incremental form keeps upstream's quirk (dockerignore.h): an inclusion pattern
// skipped at a parent is not carried down, so `*` coming again after `!a/b/**` does not
// ignore a/b/c there, while matches() (what the context walker and the copier use) does.
TEST(DockerignoreParentResults, DifferFromMatchesLikeUpstreamWhenAnInclusionComesAgain) {
    const PatternMatcher m({"*", "!a/b/**", "*"});
    PatternMatcher::MatchInfo a, ab;
    EXPECT_TRUE(m.matches_using_parent_results("a", {}, &a));
    EXPECT_TRUE(m.matches_using_parent_results("a/b", a, &ab));
    EXPECT_FALSE(m.matches_using_parent_results("a/b/c", ab));
    EXPECT_TRUE(m.matches("a/b/c"));
}

// Docker's reader stops at a line over 64 KiB; a pattern that long would cost as much
// for every path of the context. The error shows its start, not all of it.
TEST(DockerignoreLimits, APatternOver64KiBIsRefusedWithAShortMessage) {
    const std::string huge(PatternMatcher::kMaxPatternSize + 1, '*');
    try {
        PatternMatcher m({huge});
        ADD_FAILURE() << "a pattern of " << huge.size() << " bytes was taken";
    } catch (const PatternError& e) {
        EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
        EXPECT_NE(std::string(e.what()).find("longer than 65536 bytes"), std::string::npos);
    }
    EXPECT_NO_THROW(PatternMatcher({std::string(PatternMatcher::kMaxPatternSize, '*')}));
    try {
        PatternMatcher m({"[" + std::string(1000, 'a')});
        ADD_FAILURE() << "a malformed pattern was taken";
    } catch (const PatternError& e) {
        EXPECT_LT(std::string(e.what()).size(), 300u);
    }
}

// Every pattern is tried on every path of the context: a file of millions of them cost
// seconds per build before this limit. Comments and blank lines do not count.
TEST(DockerignoreLimits, MoreThan10000PatternsAreRefused) {
    std::string file = "# generated\n\n";
    for (size_t i = 0; i < PatternMatcher::kMaxPatterns; ++i) {
        file += "dir" + std::to_string(i) + "\n# note\n";
    }
    const auto patterns = parse_dockerignore(file);
    ASSERT_EQ(patterns.size(), PatternMatcher::kMaxPatterns);
    EXPECT_TRUE(PatternMatcher(patterns).matches("dir9999/x"));
    try {
        parse_dockerignore(file + "one-more\n");
        ADD_FAILURE() << "10001 patterns were read";
    } catch (const PatternError& e) {
        EXPECT_STREQ(e.what(), "more than 10000 patterns");
    }
    auto over = patterns;
    over.push_back("one-more");
    EXPECT_THROW(PatternMatcher{over}, PatternError);
}

// Compiling and matching grow with the patterns' bytes: 160 patterns of 64 KiB (10 MB) cost
// half a gigabyte of compiled form and seconds before this limit.
TEST(DockerignoreLimits, PatternsOfMoreThan1MiBInAllAreRefused) {
    const std::string big(60000, 'a');
    std::vector<std::string> patterns(17, big);
    EXPECT_NO_THROW(PatternMatcher{patterns});
    patterns.push_back(big);
    try {
        PatternMatcher m(patterns);
        ADD_FAILURE() << "18 patterns of 60000 bytes were taken";
    } catch (const PatternError& e) {
        EXPECT_STREQ(e.what(), "patterns longer than 1048576 bytes in all");
    }
}

// `**/**/` is `**/`, and `**/` before a final `**` is `**`: merged when compiled, so a long
// run of them costs no more than one.
TEST(DockerignoreMatch, RepeatedDoubleStarsMatchLikeOne) {
    std::string run;
    for (int i = 0; i < 20000; ++i) {
        run += "**/";
    }
    const PatternMatcher m({run + "a", "b/" + run + "**"});
    EXPECT_TRUE(m.matches("a"));
    EXPECT_TRUE(m.matches("x/y/a"));
    EXPECT_FALSE(m.matches("xa"));
    EXPECT_TRUE(m.matches("b/c/d"));
    EXPECT_FALSE(m.matches("bc"));
    const PatternMatcher one({"**/a", "b/**"});
    for (const char* path : {"a", "x/y/a", "xa", "b/c/d", "bc", "b", "a/b"}) {
        EXPECT_EQ(m.matches(path), one.matches(path)) << path;
    }
}

// A match needs a character for each `?`, class or literal: a path with fewer bytes than
// that is no match, whatever the pattern's length.
TEST(DockerignoreMatch, APatternNeedingMoreCharactersThanThePathHasIsNoMatch) {
    const std::string questions(1000, '?');
    const PatternMatcher m({questions});
    EXPECT_TRUE(m.matches(std::string(1000, 'x')));
    std::string accented;
    for (int i = 0; i < 1000; ++i) {
        accented += "\u00e9";  // two bytes, one character
    }
    EXPECT_TRUE(m.matches(accented));
    EXPECT_FALSE(m.matches(std::string(999, 'x')));
    std::string stars;
    for (int i = 0; i < 20000; ++i) {
        stars += "*a";
    }
    EXPECT_FALSE(PatternMatcher({stars}).matches("aaaa/aaaa"));
    EXPECT_TRUE(PatternMatcher({"*a*a"}).matches("xaya"));
}

}  // namespace
}  // namespace kiln::frontend
