// The record an incremental COPY keeps with its snapshot
// (solver/copy_journal.h): what serialize() writes, parse() reads back
// exactly, whatever the paths hold; anything else is NotIncremental (a full
// copy), never a wrong record.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "solver/copy_journal.h"

namespace kiln::solver {
namespace {

CopyRecord::File file(unsigned char seed) {
    CopyRecord::File f;
    for (std::size_t i = 0; i < f.digest.size(); ++i)
        f.digest[i] = static_cast<unsigned char>(seed + i * 7);
    f.size = 12345;
    f.mtime_s = 1700000000;
    f.mtime_ns = 999999999;
    f.mode = 0644;
    f.ino = 42;
    f.ctime_s = 1700000001;
    f.ctime_ns = 1;
    return f;
}

void expect_same(const CopyRecord::File& a, const CopyRecord::File& b, const std::string& what) {
    EXPECT_EQ(a.digest, b.digest) << what;
    EXPECT_EQ(a.size, b.size) << what;
    EXPECT_EQ(a.mtime_s, b.mtime_s) << what;
    EXPECT_EQ(a.mtime_ns, b.mtime_ns) << what;
    EXPECT_EQ(a.mode, b.mode) << what;
    EXPECT_EQ(a.uid, b.uid) << what;
    EXPECT_EQ(a.gid, b.gid) << what;
    EXPECT_EQ(a.xattrs, b.xattrs) << what;
    EXPECT_EQ(a.ino, b.ino) << what;
    EXPECT_EQ(a.ctime_s, b.ctime_s) << what;
    EXPECT_EQ(a.ctime_ns, b.ctime_ns) << what;
}

TEST(CopyRecordTest, EveryFieldAndOddPathsRoundTrip) {
    CopyRecord r;
    r.files["/app/plain.txt"] = file(1);
    CopyRecord::File odd = file(2);
    odd.mtime_s = -86400;  // before 1970
    odd.mode = 04755;
    odd.uid = 4294967294u;
    odd.gid = 65534;
    odd.xattrs = true;
    odd.ino = 18446744073709551600ull;  // above what a signed 64-bit number holds
    r.files["/app/new\nline and \\back slash"] = odd;
    r.files["/app/ trailing space "] = file(3);
    r.others = {"/app/link", "/app/fifo\n"};
    r.created_dirs = {"/app", "/app/sub dir"};
    r.dated_dirs = {"/"};

    const CopyRecord back = CopyRecord::parse(r.serialize());
    ASSERT_EQ(back.files.size(), r.files.size());
    for (const auto& [path, f] : r.files) {
        auto it = back.files.find(path);
        ASSERT_NE(it, back.files.end()) << path;
        expect_same(it->second, f, path);
    }
    EXPECT_EQ(back.others, r.others);
    EXPECT_EQ(back.created_dirs, r.created_dirs);
    EXPECT_EQ(back.dated_dirs, r.dated_dirs);
    EXPECT_EQ(back.serialize(), r.serialize());
}

TEST(CopyRecordTest, AnEmptyRecordRoundTrips) {
    const CopyRecord back = CopyRecord::parse(CopyRecord().serialize());
    EXPECT_TRUE(back.files.empty());
    EXPECT_TRUE(back.others.empty());
}

TEST(CopyRecordTest, WhatDoesNotParseIsNotIncremental) {
    CopyRecord r;
    r.files["/f"] = file(1);
    const std::string good = r.serialize();
    const std::string header = good.substr(0, good.find('\n') + 1);
    const std::string line = good.substr(header.size());
    const std::string digest = line.substr(2, 64);
    std::string upper = digest;
    for (char& c : upper)
        c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 32 : c);
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string s = line;
        s.replace(s.find(from), from.size(), to);
        return header + s;
    };
    const std::vector<std::string> bad = {
        "",
        "kiln-copy-record 1\n" + line,  // an older record: a full copy
        header + "f\n",
        header + "x /f\n",
        header + "\n",
        header + "f " + digest + "\n",                    // numbers missing
        header + line.substr(0, line.size() - 4) + "\n",  // path glued to a number
        replaced(digest, upper),                          // digests are lower-case
        replaced(digest, digest.substr(1)),               // 63 digits
        replaced(" 12345 ", " 12x45 "),                   // not a number
        replaced(" 644 ", " 648 "),                       // not octal
        replaced(" 12345 ", "  12345 "),                  // two spaces
        header + "e /a\\",                                // escape cut off
    };
    for (const auto& text : bad)
        EXPECT_THROW(CopyRecord::parse(text), NotIncremental) << text;
}

}  // namespace
}  // namespace kiln::solver
