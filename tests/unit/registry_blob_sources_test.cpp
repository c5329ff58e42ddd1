// Blob source records (cache/sources/<hex>): where a blob is known to live,
// read back per registry domain.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/blob_sources.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
using content::Digest;
using Repos = std::vector<std::string>;

class RegistryBlobSources : public ::testing::Test {
  protected:
    TempDir dir{fs::temp_directory_path(), "kiln-sources-"};
    content::StateRoot root{dir.path() / "root"};
    Digest blob = Digest::of("layer bytes");

    fs::path record_file() { return root.cache() / "sources" / std::string(blob.hex()); }
    std::string record_text() {
        std::ifstream in(record_file());
        return {std::istreambuf_iterator<char>(in), {}};
    }
    void write_record(const std::string& text) {
        fs::create_directories(record_file().parent_path());
        std::ofstream(record_file()) << text;
    }
};

TEST_F(RegistryBlobSources, NothingRecorded) {
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{});
}

TEST_F(RegistryBlobSources, RecordedThenRead) {
    record_blob_source(root, blob, "registry.test", "base/img");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{"base/img"});
    EXPECT_EQ(record_text(), "registry.test/base/img\n");
}

TEST_F(RegistryBlobSources, SeveralRepositoriesInOrder) {
    record_blob_source(root, blob, "registry.test", "a");
    record_blob_source(root, blob, "registry.test", "b/c");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), (Repos{"a", "b/c"}));
}

TEST_F(RegistryBlobSources, OtherBlobsUnaffected) {
    record_blob_source(root, blob, "registry.test", "a");
    EXPECT_EQ(blob_sources(root, Digest::of("other"), "registry.test"), Repos{});
}

TEST_F(RegistryBlobSources, FilteredByDomain) {
    record_blob_source(root, blob, "registry.test", "app");
    record_blob_source(root, blob, "registry.test:5000", "mirror/app");
    record_blob_source(root, blob, "docker.io", "library/busybox");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{"app"});
    EXPECT_EQ(blob_sources(root, blob, "registry.test:5000"), Repos{"mirror/app"});
    EXPECT_EQ(blob_sources(root, blob, "docker.io"), Repos{"library/busybox"});
    EXPECT_EQ(blob_sources(root, blob, "ghcr.io"), Repos{});
}

TEST_F(RegistryBlobSources, DuplicateNotRepeated) {
    record_blob_source(root, blob, "registry.test", "app");
    record_blob_source(root, blob, "registry.test", "app");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{"app"});
    EXPECT_EQ(record_text(), "registry.test/app\n");
}

TEST_F(RegistryBlobSources, DuplicateLinesInFileReadOnce) {
    write_record("registry.test/app\nregistry.test/app\n");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{"app"});
}

TEST_F(RegistryBlobSources, TornLastLineIgnored) {
    write_record("registry.test/app\nregistry.test/oth");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), Repos{"app"});
}

TEST_F(RegistryBlobSources, RecordAfterATornLineIsReadable) {
    // A writer killed midway left "registry.test/oth" without its newline;
    // the next record must still come back as its own line.
    write_record("registry.test/app\nregistry.test/oth");
    record_blob_source(root, blob, "registry.test", "web");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), (Repos{"app", "web"}));
    // Recorded once more, it is not repeated.
    record_blob_source(root, blob, "registry.test", "web");
    EXPECT_EQ(blob_sources(root, blob, "registry.test"), (Repos{"app", "web"}));
}

}  // namespace
}  // namespace kiln::registry
