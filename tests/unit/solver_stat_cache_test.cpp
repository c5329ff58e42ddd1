// The stat cache (solver/stat_cache.h): file names are any bytes, the cache
// file is JSON (UTF-8 only), so keys are stored encoded and must come back
// exactly; a digest saved by one build is reused by the next.
#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <sys/stat.h>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "content/atomic_file.h"
#include "content/digest.h"
#include "content/temp_dir.h"
#include "solver/stat_cache.h"

namespace kiln::solver {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& content) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
}

struct stat stat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
}

class StatCacheTest : public ::testing::Test {
  protected:
    TempDir dir_{fs::temp_directory_path(), "kiln-stat-cache-"};
    fs::path cache_file_ = dir_.path() / "cache" / "stat";
};

// The name from issue #10: Latin-1 "café" (0xe9) plus a 0xff byte, neither UTF-8.
const std::string kNonUtf8Name = "caf\xe9-\xff";

TEST_F(StatCacheTest, NonUtf8NameRoundTripsAndItsDigestIsReused) {
    const fs::path file = dir_.path() / kNonUtf8Name;
    write(file, "x");
    const auto want = content::Digest::of("x");
    {
        StatCache cache(cache_file_);
        EXPECT_EQ(cache.digest(kNonUtf8Name, file, stat_of(file)), want);
        EXPECT_EQ(cache.reads(), 1u);
        ASSERT_NO_THROW(cache.save());
    }
    // The file is JSON that any reader takes (all UTF-8), version 3.
    auto j = nlohmann::json::parse(read_file(cache_file_));
    EXPECT_EQ(j.at("version"), 3);
    EXPECT_TRUE(j.at("entries").contains(StatCache::encode_key(kNonUtf8Name)));

    StatCache again(cache_file_);
    EXPECT_EQ(again.digest(kNonUtf8Name, file, stat_of(file)), want);
    EXPECT_EQ(again.reads(), 0u) << "the saved digest was not found under the same bytes";
}

TEST_F(StatCacheTest, NamesThatLookAlikeOnceDecodedStayApart) {
    // "%41" must not come back as "A", nor 0xff as U+FFFD.
    const std::vector<std::string> names = {"A", "%41", "\xff", "\xef\xbf\xbd", "%", "caf\xc3\xa9"};
    auto file_of = [&](size_t i) { return dir_.path() / ("f" + std::to_string(i)); };
    {
        StatCache cache(cache_file_);
        for (size_t i = 0; i < names.size(); ++i) {
            write(file_of(i), names[i]);
            cache.digest(names[i], file_of(i), stat_of(file_of(i)));
        }
        cache.save();
    }
    StatCache again(cache_file_);
    for (size_t i = 0; i < names.size(); ++i) {
        SCOPED_TRACE(names[i]);
        EXPECT_EQ(again.digest(names[i], file_of(i), stat_of(file_of(i))),
                  content::Digest::of(names[i]));
    }
    EXPECT_EQ(again.reads(), 0u);
}

TEST(StatCacheKeys, EveryByteStringRoundTrips) {
    std::string all;
    for (int b = 1; b < 256; ++b)
        all += static_cast<char>(b);
    const std::string keys[] = {
        "",
        "plain/ascii.txt",
        "caf\xc3\xa9",
        kNonUtf8Name,
        "100%",
        "%25",
        "%zz",
        all,
        "\xed\xa0\x80",      // a UTF-16 surrogate: not UTF-8
        "\xc0\xaf",          // an overlong '/'
        "\xf0\x9f\x98\x80",  // U+1F600, well-formed
        "\xe2\x82",          // a cut-off sequence
    };
    for (const auto& k : keys) {
        SCOPED_TRACE(k);
        std::string encoded = StatCache::encode_key(k);
        // What JSON writes must be UTF-8: dump() throws otherwise.
        EXPECT_NO_THROW(nlohmann::json(encoded).dump());
        EXPECT_EQ(StatCache::decode_key(encoded), k);
    }
    // Readable where it can be: UTF-8 stays as it is.
    EXPECT_EQ(StatCache::encode_key("dir/caf\xc3\xa9"), "dir/caf\xc3\xa9");
    EXPECT_EQ(StatCache::encode_key("caf\xe9%"), "caf%E9%25");
    EXPECT_EQ(StatCache::decode_key("bad%4"), std::nullopt);
    EXPECT_EQ(StatCache::decode_key("bad%g0"), std::nullopt);
}

// Versions 1 and 2 recorded digests that miss xattrs: not trusted.
TEST_F(StatCacheTest, OlderVersionsAreDiscarded) {
    const fs::path file = dir_.path() / "a.txt";
    write(file, "hello");
    const struct stat st = stat_of(file);
    const auto ns = [](const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; };
    const std::string recorded = content::Digest::of("recorded").str();  // tells them apart
    nlohmann::json entry = {static_cast<unsigned long long>(st.st_dev),
                            static_cast<unsigned long long>(st.st_ino),
                            static_cast<unsigned long long>(st.st_size),
                            ns(st.st_mtim),
                            ns(st.st_ctim),
                            recorded};
    fs::create_directories(cache_file_.parent_path());
    for (const nlohmann::json& old :
         {nlohmann::json{{"a.txt", entry}},
          nlohmann::json{{"version", 2}, {"entries", {{"a.txt", entry}}}}}) {
        write_file_atomic(cache_file_, old.dump());
        StatCache cache(cache_file_);
        EXPECT_EQ(cache.digest("a.txt", file, st), content::Digest::of("hello")) << old.dump();
        EXPECT_EQ(cache.reads(), 1u);
    }
}

TEST_F(StatCacheTest, ExtendedAttributesAreInTheDigest) {
    const fs::path file = dir_.path() / "a.txt";
    write(file, "hello");
    StatCache cache(cache_file_);
    EXPECT_EQ(cache.digest("a.txt", file, stat_of(file)), content::Digest::of("hello"));
    if (::setxattr(file.c_str(), "user.kiln-test", "1", 1, 0) != 0)
        GTEST_SKIP() << "no user xattrs here: " << std::strerror(errno);
    const auto with_one = cache.digest("a.txt", file, stat_of(file));
    EXPECT_NE(with_one, content::Digest::of("hello"));
    ASSERT_EQ(::setxattr(file.c_str(), "user.kiln-test", "2", 1, 0), 0);
    EXPECT_NE(cache.digest("a.txt", file, stat_of(file)), with_one);
    EXPECT_EQ(cache.reads(), 3u);
}

TEST_F(StatCacheTest, UnknownVersionIsDiscarded) {
    const fs::path file = dir_.path() / "a.txt";
    write(file, "hello");
    fs::create_directories(cache_file_.parent_path());
    write_file_atomic(cache_file_, R"({"version": 99, "entries": {"a.txt": "whatever"}})");
    StatCache cache(cache_file_);
    EXPECT_EQ(cache.digest("a.txt", file, stat_of(file)), content::Digest::of("hello"));
    EXPECT_EQ(cache.reads(), 1u);
}

TEST_F(StatCacheTest, ManyEntriesRoundTripThroughTheFile) {
    // More than one 64 KiB piece of the file, and JSON escapes in names.
    std::vector<std::string> names;
    {
        StatCache cache(cache_file_);
        for (int i = 0; i < 2000; ++i) {
            names.push_back("dir \"" + std::to_string(i) + "\"\\\n\t.txt");
            const fs::path file = dir_.path() / std::to_string(i);
            write(file, "content " + std::to_string(i));
            cache.digest(names.back(), file, stat_of(file));
        }
        cache.save();
    }
    StatCache again(cache_file_);
    for (int i = 0; i < 2000; ++i) {
        const fs::path file = dir_.path() / std::to_string(i);
        EXPECT_EQ(again.digest(names[i], file, stat_of(file)),
                  content::Digest::of("content " + std::to_string(i)));
    }
    EXPECT_EQ(again.reads(), 0u);
}

TEST_F(StatCacheTest, MisshapenFilesAreOnlyASlowerBuild) {
    const fs::path file = dir_.path() / "a.txt";
    write(file, "hello");
    const struct stat st = stat_of(file);
    const auto ns = [](const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; };
    // An entry that would be a hit, were the file whole.
    const std::string recorded = content::Digest::of("recorded").str();
    auto with_digest = [&](const std::string& digest) {
        return "[" + std::to_string(st.st_dev) + "," + std::to_string(st.st_ino) + "," +
               std::to_string(st.st_size) + "," + std::to_string(ns(st.st_mtim)) + "," +
               std::to_string(ns(st.st_ctim)) + ",\"" + digest + "\"]";
    };
    const std::string good = with_digest(recorded);
    std::string upper = recorded;
    for (std::size_t i = 7; i < upper.size(); ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    fs::create_directories(cache_file_.parent_path());
    const std::vector<std::string> misshapen = {
        R"({"version": 3, "entries": {"a.txt": [1, 2, 3]}})",
        R"({"version": 3, "entries": {"a.txt": [1, 2, 3, 4, 5, 6, "sha256:00"]}})",
        R"({"version": 3, "entries": {"a.txt": [1.5, 2, 3, 4, 5, "x"]}})",
        R"({"version": 3, "entries": {"a.txt": {"nested": []}}})",
        R"({"version": 3, "entries": {"a.txt": [[1], 2, 3, 4, 5, "x"]}})",
        R"({"version": 3, "entries": {"a.txt": [null, 2, 3, 4, 5, "x"]}})",
        R"({"version": 3, "entries": {"a.txt": )" + good,  // cut off
        R"({"version": "2", "entries": {"a.txt": )" + good + "}}",
        "[" + good + "]",
        "",
        // The version after the entries, as kiln writes the file: entries read
        // before it are dropped with it.
        R"({"entries": {"a.txt": )" + good + R"(}, "version": 2})",
        // Digests are kept as bytes: only lower-case SHA-256 hex reads back.
        R"({"version": 3, "entries": {"a.txt": )" + with_digest(upper) + "}}",
        R"({"version": 3, "entries": {"a.txt": )" + with_digest(recorded.substr(0, 70)) + "}}",
        R"({"version": 3, "entries": {"a.txt": )" + with_digest("sha512:" + recorded.substr(7)) +
            "}}",
    };
    {
        write_file_atomic(cache_file_, R"({"version": 3, "entries": {"a.txt": )" + good + "}}");
        StatCache whole(cache_file_);
        EXPECT_EQ(whole.digest("a.txt", file, st), content::Digest::of("recorded"));
    }
    for (const std::string& bad : misshapen) {
        write_file_atomic(cache_file_, bad);
        StatCache cache(cache_file_);
        EXPECT_EQ(cache.digest("a.txt", file, st), content::Digest::of("hello")) << bad;
        EXPECT_EQ(cache.reads(), 1u) << bad;
    }
}

}  // namespace
}  // namespace kiln::solver
