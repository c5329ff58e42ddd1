// Incremental COPY (solver/copy_journal.h) through build::build: a COPY whose
// previous result on the same file system is a snapshot is made again from it,
// and its layer is byte for byte the layer a full copy in a fresh store makes.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/build_testing.h"

namespace kiln::build {
namespace {

namespace fs = std::filesystem;

const char* kCopyTree =
    "FROM registry.test/base:1\n"
    "COPY tree/ /data/tree/\n"
    "COPY one.txt /etc/one.txt\n";

// Layers are dated by SOURCE_DATE_EPOCH, so two full copies at different
// seconds are equal too and a difference is a real one.
class IncrementalCopy : public BuildFixture {
  protected:
    IncrementalCopy() {
        ::setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        for (int d = 0; d < 4; ++d) {
            fs::create_directories(context_ / "tree" / ("d" + std::to_string(d)) / "sub");
            for (int f = 0; f < 25; ++f)
                context_file("tree/d" + std::to_string(d) + "/f" + std::to_string(f) + ".txt",
                             "file " + std::to_string(d * 100 + f) + "\n");
            context_file("tree/d" + std::to_string(d) + "/sub/deep.txt", "deep\n");
        }
        fs::create_directories(context_ / "tree" / "empty");
        fs::create_symlink("d0/f1.txt", context_ / "tree" / "link");
        context_file("one.txt", "one\n");
    }
    ~IncrementalCopy() override { ::unsetenv("SOURCE_DATE_EPOCH"); }

    // The layer digests of image `digest` in the store at `root`.
    static std::vector<std::string> layers_in(const fs::path& root, const std::string& digest) {
        content::StateRoot store(root);
        auto image = content::read_image(store.blobs(), {content::media_type::kOciManifest,
                                                         content::Digest::parse(digest),
                                                         0,
                                                         {},
                                                         std::nullopt});
        std::vector<std::string> out;
        for (const auto& l : image.manifest.layers)
            out.push_back(l.digest.str());
        return out;
    }
    std::vector<std::string> layers(const BuildResult& r) {
        return layers_in(tmp_.path() / "root", r.digest);
    }
    // The same context built by a full copy in a fresh store.
    std::vector<std::string> full_copy_layers() {
        auto r = request(kCopyTree);
        r.state_root = tmp_.path() / ("fresh-" + std::to_string(++fresh_));
        return layers_in(r.state_root, build(r).digest);
    }
    bool logged(const std::string& part) const {
        return std::any_of(progress_.logs.begin(), progress_.logs.end(),
                           [&](const std::string& l) { return l.find(part) != std::string::npos; });
    }
    int fresh_ = 0;
};

TEST_F(IncrementalCopy, OneEditedFileCopiesOnlyThatFileAndGivesTheFullCopysLayer) {
    build(request(kCopyTree));
    context_file("tree/d2/f7.txt", "edited\n");
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental: 103 of 104 files unchanged")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

// A file whose inode and ctime are as recorded is kept unread; anything that
// moves ctime sends it down the long way, even when size and mtime stay.
TEST_F(IncrementalCopy, ContentChangedUnderTheSameSizeAndMtimeIsCopiedAgain) {
    build(request(kCopyTree));
    const fs::path f = context_ / "tree" / "d1" / "f4.txt";
    struct stat before;
    ASSERT_EQ(::stat(f.c_str(), &before), 0);
    context_file("tree/d1/f4.txt", "FILE 104\n");  // same size
    std::array<timespec, 2> ts{before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), ts.data(), 0), 0);
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental: 103 of 104 files unchanged")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

TEST_F(IncrementalCopy, AnXattrAddedToAContextFileIsCopiedAgain) {
    build(request(kCopyTree));
    const fs::path f = context_ / "tree" / "d3" / "f9.txt";
    if (::setxattr(f.c_str(), "user.kiln-test", "v", 1, 0) != 0)
        GTEST_SKIP() << "no user xattrs here: " << std::strerror(errno);
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental: 103 of 104 files unchanged")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

TEST_F(IncrementalCopy, AddedRemovedAndChmodedEntriesGiveTheFullCopysLayer) {
    build(request(kCopyTree));
    fs::remove(context_ / "tree" / "d1" / "f3.txt");
    fs::remove_all(context_ / "tree" / "d3" / "sub");
    fs::create_directories(context_ / "tree" / "new" / "deeper");
    context_file("tree/new/deeper/n.txt", "new\n");
    fs::permissions(context_ / "tree" / "d0" / "f2.txt", fs::perms::owner_all);
    fs::remove(context_ / "tree" / "link");
    fs::create_symlink("d0/f9.txt", context_ / "tree" / "link");
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental: ")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

TEST_F(IncrementalCopy, AFileTurnedIntoADirectoryFallsBackToAFullCopy) {
    build(request(kCopyTree));
    fs::remove(context_ / "tree" / "d0" / "f0.txt");
    fs::create_directories(context_ / "tree" / "d0" / "f0.txt");
    context_file("tree/d0/f0.txt/inside", "inside\n");
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental copy not possible")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

TEST_F(IncrementalCopy, ADamagedRecordFallsBackToAFullCopy) {
    build(request(kCopyTree));
    std::size_t notes = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp_.path() / "root" / "snapshots")) {
        if (e.path().filename() == "note" && e.is_regular_file()) {
            fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
            std::ofstream(e.path(), std::ios::trunc) << "kiln-copy-record 2\nf zz 1 2\n";
            ++notes;
        }
    }
    ASSERT_GT(notes, 0u);
    context_file("tree/d2/f7.txt", "edited\n");
    auto again = build(request(kCopyTree));
    EXPECT_TRUE(logged("incremental copy not possible")) << progress_.logs.back();
    EXPECT_EQ(layers(again), full_copy_layers());
}

TEST_F(IncrementalCopy, ThePreviousSnapshotKeepsItsFiles) {
    auto first = build(request(kCopyTree));
    context_file("tree/d2/f7.txt", "edited\n");
    build(request(kCopyTree));
    // Back to the first content: the COPY hits the first result again, whose
    // snapshot shares the unchanged files' inodes with the second.
    context_file("tree/d2/f7.txt", "file 207\n");
    auto back = build(request(kCopyTree));
    EXPECT_EQ(back.steps_run, 0u);
    EXPECT_EQ(back.digest, first.digest);
    std::size_t originals = 0, edits = 0;
    for (const auto& e : fs::recursive_directory_iterator(tmp_.path() / "root" / "snapshots")) {
        if (e.path().filename() != "f7.txt" || e.path().parent_path().filename() != "d2")
            continue;
        std::ifstream in(e.path());
        std::stringstream text;
        text << in.rdbuf();
        originals += text.str() == "file 207\n";
        edits += text.str() == "edited\n";
    }
    EXPECT_EQ(originals, 1u);
    EXPECT_EQ(edits, 1u);
}

// Without SOURCE_DATE_EPOCH: the destination directory keeps the source
// directory's mtime, as a full copy leaves it, rather than the copy's time.
TEST_F(IncrementalCopy, TheDestinationKeepsTheSourceDirectorysMtime) {
    ::unsetenv("SOURCE_DATE_EPOCH");
    struct timespec old[2] = {{0, UTIME_OMIT}, {1600000000, 0}};
    build(request(kCopyTree));
    context_file("tree/d2/f7.txt", "edited\n");
    ASSERT_EQ(::utimensat(AT_FDCWD, (context_ / "tree").c_str(), old, 0), 0);
    auto again = build(request(kCopyTree));
    ASSERT_TRUE(logged("incremental: ")) << progress_.logs.back();
    const auto layer = layers(again).at(1);
    content::StateRoot root(tmp_.path() / "root");
    struct ReadFree {
        void operator()(struct archive* a) const { archive_read_free(a); }
    };
    std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
    archive_read_support_format_tar(a.get());
    ASSERT_EQ(archive_read_open_filename(
                  a.get(), root.blobs().path(content::Digest::parse(layer)).c_str(), 65536),
              ARCHIVE_OK);
    archive_entry* e = nullptr;
    bool found = false;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        if (std::string(archive_entry_pathname(e)) == "data/tree/") {
            EXPECT_EQ(archive_entry_mtime(e), 1600000000);
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

TEST_F(IncrementalCopy, NoCacheCopiesEverything) {
    build(request(kCopyTree));
    context_file("tree/d2/f7.txt", "edited\n");
    auto r = request(kCopyTree);
    r.no_cache = true;
    build(r);
    EXPECT_FALSE(logged("incremental: ")) << "--no-cache makes every step afresh";
}

}  // namespace
}  // namespace kiln::build
