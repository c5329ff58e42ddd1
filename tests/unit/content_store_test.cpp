// Content store: digests, blob writes and verified reads, the image index.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/reference.h"
#include "content/atomic_file.h"
#include "content/blob_store.h"
#include "content/image_store.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::content;

namespace {
size_t count_files(const fs::path& dir) {
    size_t n = 0;
    for (auto& e : fs::directory_iterator(dir))
        n += e.is_regular_file() ? 1 : 0;
    return n;
}
}  // namespace

TEST(Digest, Sha256OfKnownInput) {
    EXPECT_EQ(Digest::of("").str(),
              "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(Digest::of("abc").str(),
              "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, RejectsMalformed) {
    EXPECT_THROW(Digest::parse("sha256:abc"), Error);
    EXPECT_THROW(Digest::parse("md5:" + std::string(64, 'a')), Error);
    EXPECT_THROW(Digest::parse("sha256:" + std::string(64, 'A')), Error);
    EXPECT_THROW(Digest::parse("sha256:../../" + std::string(58, 'a')), Error);
}

// A stranger's document nested a million levels deep is refused at level 65, before
// the rest is read or built; real OCI documents nest a few levels.
TEST(ParseJson, ADocumentNestedDeeperThan64LevelsIsRefusedNamingIt) {
    const std::string deep(1 << 20, '[');
    try {
        (void)content::parse_json_as<content::Manifest>(deep, "blob sha256:abc");
        ADD_FAILURE() << "parsed";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "malformed JSON in blob sha256:abc: nested deeper than 64 levels");
    }
    std::string ok = "1";
    for (int i = 0; i < content::kMaxJsonDepth; ++i)
        ok = "[" + ok + "]";
    EXPECT_EQ(content::parse_json(ok, "x").dump().size(), ok.size());
}

// The same bound for readers with their own wording, which get a discarded value instead.
TEST(ParseJson, TryParseGivesADiscardedValueForWhatParseJsonRefuses) {
    EXPECT_TRUE(content::try_parse_json(std::string(1 << 20, '[')).is_discarded());
    EXPECT_TRUE(content::try_parse_json("{\"a\":").is_discarded());
    EXPECT_TRUE(content::try_parse_json("1e999").is_discarded());
    std::string ok = "{\"a\":1}";
    for (int i = 1; i < content::kMaxJsonDepth; ++i)
        ok = "[" + ok + "]";
    EXPECT_EQ(content::try_parse_json(ok).dump(), ok);
    EXPECT_TRUE(content::try_parse_json("[" + ok + "]").is_discarded());
}

// Found by oci_json_fuzzer: a descriptor's size of 2.2e115 was converted to int64
// (undefined behaviour); a float, a negative or an oversized size is a shape error.
TEST(ParseJson, ASizeThatIsNoInt64IsRefused) {
    std::ifstream in(std::string(KILN_TESTDATA_DIR) + "/fuzz/oci-json/crash-size-float.json");
    const std::string found((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(found.empty());
    EXPECT_THROW((void)parse_json_as<Index>(found, "index"), Error);
    const std::string digest = "sha256:" + std::string(64, 'a');
    for (const char* size : {"2.2e115", "-1", "18446744073709551615", "1.0", "\"1\""}) {
        const std::string text =
            R"({"mediaType":"x","digest":")" + digest + R"(","size":)" + size + "}";
        EXPECT_THROW((void)parse_json_as<Descriptor>(text, "descriptor"), Error) << size;
    }
    const std::string ok =
        R"({"mediaType":"x","digest":")" + digest + R"(","size":9223372036854775807})";
    EXPECT_EQ(parse_json_as<Descriptor>(ok, "descriptor").size, INT64_MAX);
}

TEST(BlobStore, WriteNamesBlobByContent) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    auto w = root.blobs().writer();
    w.write("hello ");
    w.write("world");
    auto info = w.commit();
    EXPECT_EQ(info.digest, Digest::of("hello world"));
    EXPECT_EQ(info.size, 11);
    EXPECT_EQ(read_file(root.blobs().path(info.digest)), "hello world");
    EXPECT_EQ(count_files(root.tmp()), 0u) << "temp file left behind";
}

TEST(BlobStore, ExpectedDigestMismatchPublishesNothing) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    auto w = root.blobs().writer();
    w.write("payload");
    EXPECT_THROW(w.commit(Digest::of("other")), Error);
    EXPECT_FALSE(root.blobs().has(Digest::of("payload")));
    EXPECT_EQ(count_files(root.path() / "blobs" / "sha256"), 0u);
}

TEST(BlobStore, AbandonedWriterLeavesNoTempFile) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    {
        auto w = root.blobs().writer();
        w.write("partial");
    }
    EXPECT_EQ(count_files(root.tmp()), 0u);
}

TEST(BlobStore, CorruptBlobIsDetectedWhenRead) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    auto info = root.blobs().put("good content");
    {
        std::ofstream f(root.blobs().path(info.digest), std::ios::trunc);
        f << "evil content";
    }
    try {
        root.blobs().read_all(info.digest);
        FAIL() << "corruption not detected";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt blob"), std::string::npos) << e.what();
    }
}

TEST(BlobStore, MissingBlobNamesDigest) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    try {
        root.blobs().read_all(Digest::of("nope"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(Digest::of("nope").str()), std::string::npos);
    }
}

TEST(StateRoot, IsAnOciLayout) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    EXPECT_EQ(read_file(root.path() / "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
    auto index = nlohmann::json::parse(read_file(root.path() / "index.json"));
    EXPECT_EQ(index["schemaVersion"], 2);
    EXPECT_TRUE(index["manifests"].empty());
    StateRoot again(t.path() / "root");  // reopening keeps what is there
}

TEST(StateRoot, ResolvesFlagThenEnv) {
    EXPECT_EQ(resolve_state_root(std::string("/x/y")), fs::path("/x/y"));
    ::setenv("KILN_ROOT", "/from/env", 1);
    EXPECT_EQ(resolve_state_root(std::nullopt), fs::path("/from/env"));
    ::unsetenv("KILN_ROOT");
}

TEST(ImageStore, NamesAreNormalisedAndReplaced) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    ImageStore images(root);
    Descriptor a{media_type::kOciManifest, Digest::of("a"), 1, {}, {}};
    Descriptor b{media_type::kOciManifest, Digest::of("b"), 1, {}, {}};
    images.set("app", a);
    images.set("app:latest", b);
    images.set("other:v1", a);
    auto all = images.list();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "app:latest");
    EXPECT_EQ(all[0].descriptor.digest, b.digest);
    EXPECT_EQ(images.get("app")->digest, b.digest);
    EXPECT_FALSE(images.get("other").has_value());
    EXPECT_TRUE(images.remove("other:v1"));
    EXPECT_FALSE(images.remove("other:v1"));
    EXPECT_EQ(images.list().size(), 1u);
    EXPECT_THROW(normalize_name("bad name"), Error);
}

TEST(ImageStore, DockerHubSpellingsNameOneImage) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    ImageStore images(root);
    Descriptor a{media_type::kOciManifest, Digest::of("a"), 1, {}, {}};
    images.set("busybox", a);
    // What FROM library/busybox pulls is what inspect and rmi find under any spelling.
    for (const char* name : {"library/busybox", "docker.io/library/busybox:latest",
                             "index.docker.io/library/busybox", "busybox:latest"}) {
        ASSERT_TRUE(images.get(name).has_value()) << name;
        EXPECT_EQ(images.get(name)->digest, a.digest) << name;
        EXPECT_EQ(normalize_name(name), "busybox:latest") << name;
    }
    // The on-disk name stays Docker's familiar form.
    ASSERT_EQ(images.list().size(), 1u);
    EXPECT_EQ(images.list()[0].name, "busybox:latest");
    EXPECT_FALSE(images.get("library/busybox:1").has_value());
    EXPECT_FALSE(images.get("other/busybox").has_value());
    EXPECT_TRUE(images.remove("library/busybox"));
    EXPECT_TRUE(images.list().empty());
}

TEST(ImageStore, NormalisedNamesMatchThePullName) {
    for (std::string text : {"busybox", "busybox:1", "org/app:2", "ghcr.io/o/r:t"})
        EXPECT_EQ(normalize_name(text), store_name(parse_reference(text))) << text;
    // "library/a/b" is another repository than "a/b" on Docker Hub.
    EXPECT_EQ(normalize_name("docker.io/library/a/b:t"), "library/a/b:t");
    // A tag and a digest both stay.
    const std::string digest =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    EXPECT_EQ(normalize_name("app:t@" + digest), "app:t@" + digest);
}

TEST(ImageStore, NamesDockerCannotParseAreKeptAsGiven) {
    EXPECT_EQ(normalize_name("MyApp"), "MyApp:latest");
    EXPECT_EQ(normalize_name("app:1.0+build"), "app:1.0+build");
    EXPECT_THROW(normalize_name(""), Error);
}

TEST(ImageStore, EntriesWrittenUnderAnotherSpellingStillMatch) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    // An older kiln kept "library/app" as given.
    Descriptor a{media_type::kOciManifest, Digest::of("a"), 1, {}, {}};
    a.annotations[kRefNameAnnotation] = "library/app:latest";
    Index index;
    index.manifests.push_back(a);
    write_file_atomic(root.path() / "index.json", canonical(nlohmann::json(index)));
    ImageStore images(root);
    ASSERT_TRUE(images.get("app").has_value());
    ASSERT_TRUE(images.get("library/app").has_value());
    Descriptor b{media_type::kOciManifest, Digest::of("b"), 1, {}, {}};
    images.set("app", b);  // replaces the old spelling
    ASSERT_EQ(images.list().size(), 1u);
    EXPECT_EQ(images.list()[0].name, "app:latest");
    EXPECT_EQ(images.get("library/app")->digest, b.digest);
}

TEST(ImageStore, ConcurrentWritersLoseNoName) {
    TempDir t(fs::temp_directory_path(), "kiln-test-");
    StateRoot root(t.path() / "root");
    // Separate processes, as two kiln commands would be.
    std::vector<pid_t> kids;
    for (int p = 0; p < 4; ++p) {
        pid_t pid = fork();
        if (pid == 0) {
            StateRoot r(t.path() / "root");
            ImageStore images(r);
            for (int i = 0; i < 10; ++i) {
                images.set("img" + std::to_string(p) + "-" + std::to_string(i),
                           {media_type::kOciManifest, Digest::of("x"), 1, {}, {}});
            }
            _exit(0);
        }
        kids.push_back(pid);
    }
    for (pid_t k : kids) {
        int st = 0;
        waitpid(k, &st, 0);
        EXPECT_EQ(st, 0);
    }
    EXPECT_EQ(ImageStore(root).list().size(), 40u);
}
