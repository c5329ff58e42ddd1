// Shared by the snapshotter tests: the native kind in the unit tests, overlayfs
// in the integration tests run the same scenarios (SnapshotterScenarios).
#pragma once

// Entries are written with designated initializers naming only what matters.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"
#include "content/blob_store.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "exporter/layer_writer.h"
#include "snapshotter/snapshotter.h"

namespace kiln::snapshotter::testing {

namespace fs = std::filesystem;

struct TEntry {
    std::string path;
    mode_t mode = AE_IFREG | 0644;
    std::string data;      // regular files
    std::string link;      // symlink target
    std::string hardlink;  // hard link target
    std::int64_t uid = 0, gid = 0;
    dev_t rdev = 0;
    std::int64_t mtime = 1700000000;
    std::map<std::string, std::string> xattrs;
};

struct ArchiveWriteFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

inline std::string make_tar(const std::vector<TEntry>& entries) {
    std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    archive_write_add_filter_none(a.get());
    std::vector<char> buf(1 << 22);
    size_t used = 0;
    EXPECT_EQ(archive_write_open_memory(a.get(), buf.data(), buf.size(), &used), ARCHIVE_OK);
    for (const TEntry& t : entries) {
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_copy_pathname(e.get(), t.path.c_str());
        archive_entry_set_mode(e.get(), t.mode);
        archive_entry_set_uid(e.get(), t.uid);
        archive_entry_set_gid(e.get(), t.gid);
        archive_entry_set_mtime(e.get(), t.mtime, 0);
        if (!t.link.empty())
            archive_entry_copy_symlink(e.get(), t.link.c_str());
        if (!t.hardlink.empty()) {
            archive_entry_copy_hardlink(e.get(), t.hardlink.c_str());
            archive_entry_set_size(e.get(), 0);
        } else if ((t.mode & AE_IFMT) == AE_IFREG) {
            archive_entry_set_size(e.get(), static_cast<la_int64_t>(t.data.size()));
        }
        if (t.rdev)
            archive_entry_set_rdev(e.get(), t.rdev);
        for (const auto& [k, v] : t.xattrs)
            archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
        EXPECT_EQ(archive_write_header(a.get(), e.get()), ARCHIVE_OK)
            << archive_error_string(a.get());
        if (!t.data.empty())
            archive_write_data(a.get(), t.data.data(), t.data.size());
    }
    archive_write_close(a.get());
    return std::string(buf.data(), used);
}

inline ReadFn string_reader(std::shared_ptr<std::string> s) {
    auto pos = std::make_shared<std::size_t>(0);
    return [s, pos](void* buf, std::size_t n) {
        std::size_t k = std::min(n, s->size() - *pos);
        std::memcpy(buf, s->data() + *pos, k);
        *pos += k;
        return k;
    };
}
inline ReadFn string_reader(std::string s) {
    return string_reader(std::make_shared<std::string>(std::move(s)));
}

// Entry names (and the few fields that matter here) of a tar blob.
struct TarInfo {
    std::string path;
    mode_t mode;
    std::int64_t uid, gid, size;
    std::string hardlink;
};
inline std::vector<TarInfo> tar_entries(const fs::path& file) {
    std::unique_ptr<struct archive, ArchiveReadFree> a(archive_read_new());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    std::vector<TarInfo> out;
    if (archive_read_open_filename(a.get(), file.c_str(), 65536) != ARCHIVE_OK) {
        ADD_FAILURE() << archive_error_string(a.get());
        return out;
    }
    archive_entry* e;
    while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
        const char* h = archive_entry_hardlink(e);
        out.push_back({archive_entry_pathname(e), archive_entry_mode(e), archive_entry_uid(e),
                       archive_entry_gid(e), archive_entry_size(e), h ? h : ""});
    }
    return out;
}

inline std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
inline void write(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}

inline std::string xattr_list(const fs::path& p) {
    char names[4096];
    ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
    std::vector<std::string> out;
    for (ssize_t i = 0; i < n;) {
        std::string k(names + i);
        i += static_cast<ssize_t>(k.size()) + 1;
        if (k.starts_with("trusted.overlay.") || k.starts_with("user.overlay.") ||
            k.starts_with("security."))
            continue;
        char v[1024];
        ssize_t m = ::lgetxattr(p.c_str(), k.c_str(), v, sizeof v);
        out.push_back(k + "=" + std::string(v, m > 0 ? static_cast<std::size_t>(m) : 0));
    }
    std::sort(out.begin(), out.end());
    std::string s;
    for (auto& x : out)
        s += x + ";";
    return s;
}

// A tree as path → "type mode owner size mtime content xattrs", for equality checks.
// Directory mtimes are left out (overlay and copies set them differently), file
// mtimes are compared in whole seconds (a tar keeps no more).
inline std::map<std::string, std::string> describe(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        fs::path p = it->path();
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0)
            continue;
        std::ostringstream d;
        d << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid;
        if (S_ISREG(st.st_mode))
            d << " size=" << st.st_size << " mtime=" << st.st_mtim.tv_sec
              << " data=" << read_all(p);
        else if (S_ISLNK(st.st_mode))
            d << " -> " << fs::read_symlink(p).string();
        else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            d << " dev=" << major(st.st_rdev) << "," << minor(st.st_rdev);
        d << " x=" << xattr_list(p);
        out[fs::relative(p, root).string()] = d.str();
    }
    return out;
}

inline bool is_whiteout(const fs::path& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}
inline bool is_opaque(const fs::path& p) {
    char v[4];
    return ::lgetxattr(p.c_str(), "trusted.overlay.opaque", v, sizeof v) == 1 ||
           ::lgetxattr(p.c_str(), "user.overlay.opaque", v, sizeof v) == 1;
}

// Mount points under `root` in /proc/self/mountinfo.
inline std::vector<std::string> mounts_under(const fs::path& root) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::vector<std::string> out;
    std::string prefix = fs::weakly_canonical(root).string();
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string a, b, c, r, point;
        ls >> a >> b >> c >> r >> point;
        if (point.starts_with(prefix))
            out.push_back(point);
    }
    return out;
}

inline bool is_root() {
    return ::geteuid() == 0;
}

// The base layer most scenarios start from.
inline std::string base_layer() {
    return make_tar({
        {.path = "etc/", .mode = AE_IFDIR | 0755},
        {.path = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n"},
        {.path = "etc/gone", .data = "delete me\n"},
        {.path = "data/", .mode = AE_IFDIR | 0755},
        {.path = "data/keep", .data = "kept\n"},
        {.path = "data/drop", .data = "dropped\n"},
        {.path = "tree/", .mode = AE_IFDIR | 0750, .uid = 10, .gid = 20},
        {.path = "tree/old1", .data = "1"},
        {.path = "tree/sub/", .mode = AE_IFDIR | 0755},
        {.path = "tree/sub/old2", .data = "2"},
        {.path = "bin/", .mode = AE_IFDIR | 0755},
        {.path = "bin/tool", .mode = AE_IFREG | 04755, .data = "#!tool", .uid = 0},
        {.path = "bin/alias", .mode = AE_IFLNK | 0777, .link = "tool"},
        {.path = "bin/tool2", .hardlink = "bin/tool"},
        {.path = "same", .data = "abcd"},
        {.path = "xa", .data = "x", .xattrs = {{"user.k", "v"}}},
    });
}

class SnapshotterScenarios : public ::testing::Test {
  protected:
    virtual std::string kind() const = 0;

    void SetUp() override {
        dir_.emplace(fs::temp_directory_path(), "kiln-snap-");
        root_ = dir_->path() / "state";
        sentinel_ = dir_->path() / "sentinel";
        fs::create_directories(sentinel_);
        snap_ = open_snapshotter(root_ / "snapshots", kind(), root_ / "tmp");
        ASSERT_EQ(snap_->kind(), kind());
    }
    void TearDown() override {
        snap_.reset();
        EXPECT_EQ(mounts_under(dir_->path()), std::vector<std::string>{});
        EXPECT_TRUE(fs::is_empty(sentinel_)) << "something was written outside the snapshot";
        EXPECT_TRUE(fs::is_empty(root_ / "snapshots" / kind() / "tmp"))
            << "temporaries left behind";
        dir_.reset();
    }

    std::optional<TempDir> dir_;
    fs::path root_, sentinel_;
    std::unique_ptr<Snapshotter> snap_;

    // Prepare over base, change it in every way a RUN can, and return the
    // active (not committed) with the description of its tree.
    std::unique_ptr<Active> changed_active(std::map<std::string, std::string>& want) {
        snap_->apply("base", string_reader(base_layer()), "base.tar");
        auto a = snap_->prepare({"base"});
        const fs::path r = a->root();
        EXPECT_EQ(read_all(r / "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
        fs::remove(r / "etc/gone");   // deletion
        fs::remove(r / "data/drop");  // deletion in a kept dir
        fs::remove_all(r / "tree");   // replaced directory
        fs::create_directories(r / "tree/new");
        write(r / "tree/new/file", "fresh");
        write(r / "added", "added\n");                            // addition
        write(r / "etc/passwd", "root:x:0:0::/root:/bin/ash\n");  // modification
        fs::permissions(r / "data/keep", fs::perms(0600));        // mode only
        if (is_root()) {  // owner only (another user cannot give files away)
            EXPECT_EQ(::lchown((r / "xa").c_str(), 5, 6), 0);
        }
        EXPECT_EQ(::lsetxattr((r / "data/keep").c_str(), "user.new", "1", 1, 0), 0);
        fs::create_symlink("../etc/passwd", r / "data/link");  // symlink
        fs::create_hard_link(r / "added", r / "added-link");   // hard link pair
        if (is_root()) {
            EXPECT_EQ(::mknod((r / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
        }
        EXPECT_EQ(::mkfifo((r / "fifo").c_str(), 0644), 0);
        // Same size, mtime put back: only the content (and ctime) tells.
        struct stat st;
        ::lstat((r / "same").c_str(), &st);
        write(r / "same", "wxyz");
        timespec ts[2] = {st.st_atim, st.st_mtim};
        ::utimensat(AT_FDCWD, (r / "same").c_str(), ts, AT_SYMLINK_NOFOLLOW);
        want = describe(r);
        return a;
    }

    void check_changes(const fs::path& up) {
        EXPECT_TRUE(is_whiteout(up / "etc/gone"));
        EXPECT_TRUE(is_whiteout(up / "data/drop"));
        EXPECT_TRUE(is_opaque(up / "tree"));
        EXPECT_FALSE(fs::exists(up / "tree/old1"));
        EXPECT_EQ(read_all(up / "tree/new/file"), "fresh");
        EXPECT_EQ(read_all(up / "added"), "added\n");
        EXPECT_EQ(read_all(up / "etc/passwd"), "root:x:0:0::/root:/bin/ash\n");
        EXPECT_EQ(read_all(up / "same"), "wxyz");
        EXPECT_TRUE(fs::exists(up / "data/keep"));
        EXPECT_EQ(fs::exists(up / "xa"), is_root());
        EXPECT_EQ(fs::read_symlink(up / "data/link"), "../etc/passwd");
        struct stat a, b;
        ASSERT_EQ(::lstat((up / "added").c_str(), &a), 0);
        ASSERT_EQ(::lstat((up / "added-link").c_str(), &b), 0);
        EXPECT_EQ(a.st_ino, b.st_ino);
        // Untouched entries are not in the diff.
        EXPECT_FALSE(fs::exists(up / "bin"));
        EXPECT_FALSE(fs::exists(up / "data/drop2"));
    }

    // ---- the scenarios ----

    void commit_and_view() {
        std::map<std::string, std::string> want;
        auto a = changed_active(want);
        snap_->commit(*a, "l2");
        EXPECT_TRUE(snap_->exists("l2"));
        check_changes(snap_->path("l2"));
        auto v = snap_->view({"base", "l2"});
        EXPECT_EQ(describe(v->root()), want);
        // A second commit under the same key keeps the first.
        auto b = snap_->prepare({"base"});
        write(b->root() / "other", "x");
        snap_->commit(*b, "l2");
        EXPECT_FALSE(fs::exists(snap_->path("l2") / "other"));
    }

    void layer_roundtrip() {
        std::map<std::string, std::string> want;
        auto a = changed_active(want);
        snap_->commit(*a, "l2");
        content::StateRoot store(root_ / "store");
        exporter::LayerOptions opts;
        opts.overlay_whiteouts = true;
        exporter::LayerBlob blob = exporter::write_layer(snap_->path("l2"), store.blobs(), opts);
        std::vector<std::string> whiteouts, all;
        for (const TarInfo& t : tar_entries(store.blobs().path(blob.digest))) {
            all.push_back(t.path);
            if (fs::path(t.path).filename().string().starts_with(".wh.")) {
                whiteouts.push_back(t.path);
                EXPECT_EQ(t.mode, static_cast<mode_t>(AE_IFREG)) << t.path;
                EXPECT_EQ(t.uid, 0);
                EXPECT_EQ(t.size, 0);
            }
            EXPECT_EQ(t.path.find("trusted.overlay"), std::string::npos);
        }
        EXPECT_EQ(whiteouts,
                  (std::vector<std::string>{"data/.wh.drop", "etc/.wh.gone", "tree/.wh..wh..opq"}));
        EXPECT_TRUE(std::is_sorted(all.begin(), all.end())) << ::testing::PrintToString(all);
        // Applied again as a snapshot, the layer gives the same merged tree.
        auto reader = store.blobs().reader(blob.digest);
        snap_->apply(
            "l2b", [&reader](void* buf, std::size_t n) { return reader.read(buf, n); }, "l2.tar");
        check_changes(snap_->path("l2b"));
        auto v = snap_->view({"base", "l2b"});
        EXPECT_EQ(describe(v->root()), want);
    }

    void prepare_on_nothing_and_stack() {
        auto a = snap_->prepare({});
        write(a->root() / "one", "1");
        snap_->commit(*a, "s1");
        auto b = snap_->prepare({"s1"});
        EXPECT_EQ(read_all(b->root() / "one"), "1");
        fs::remove(b->root() / "one");
        write(b->root() / "two", "2");
        snap_->commit(*b, "s2");
        auto c = snap_->prepare({"s1", "s2"});
        EXPECT_FALSE(fs::exists(c->root() / "one"));
        EXPECT_EQ(read_all(c->root() / "two"), "2");
        auto v = snap_->view({"s1"});
        EXPECT_EQ(read_all(v->root() / "one"), "1");
        auto empty = snap_->view({});
        EXPECT_TRUE(fs::is_empty(empty->root()));
        // Dropped without commit: nothing is kept.
        c.reset();
        snap_->remove("s2");
        EXPECT_FALSE(snap_->exists("s2"));
        snap_->remove("s2");  // missing: fine
        EXPECT_THROW(snap_->prepare({"s2"}), Error);
        EXPECT_THROW(snap_->path("s2"), Error);
    }

    void devices_and_ownership() {
        if (!is_root())
            GTEST_SKIP() << "needs root";
        snap_->apply("dev",
                     string_reader(make_tar({
                         {.path = "dev/", .mode = AE_IFDIR | 0755},
                         {.path = "dev/null", .mode = AE_IFCHR | 0666, .rdev = makedev(1, 3)},
                         {.path = "home/", .mode = AE_IFDIR | 0700, .uid = 1000, .gid = 1000},
                         {.path = "home/f", .uid = 1000, .gid = 100},
                     })),
                     "dev.tar");
        auto a = snap_->prepare({"dev"});
        struct stat st;
        ASSERT_EQ(::lstat((a->root() / "dev/null").c_str(), &st), 0);
        EXPECT_TRUE(S_ISCHR(st.st_mode));
        EXPECT_EQ(st.st_rdev, makedev(1, 3));
        ASSERT_EQ(::lstat((a->root() / "home/f").c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 1000u);
        EXPECT_EQ(st.st_gid, 100u);
        EXPECT_EQ(::lchown((a->root() / "home").c_str(), 1001, 1001), 0);  // dir owner only
        EXPECT_EQ(::mknod((a->root() / "dev/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);
        snap_->commit(*a, "dev2");
        fs::path up = snap_->path("dev2");
        ASSERT_EQ(::lstat((up / "home").c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 1001u);
        EXPECT_FALSE(fs::exists(up / "home/f"));
        EXPECT_FALSE(fs::exists(up / "dev/null"));
        ASSERT_EQ(::lstat((up / "dev/zero").c_str(), &st), 0);
        EXPECT_EQ(st.st_rdev, makedev(1, 5));
    }

    // Each malicious layer is refused naming it, and leaves nothing anywhere.
    void malicious_layers() {
        std::string out = fs::relative(sentinel_, dir_->path() / "x").string();  // "../sentinel"
        std::vector<std::pair<std::string, std::vector<TEntry>>> bad = {
            {"dotdot.tar", {{.path = "../../../../sentinel/evil", .data = "x"}}},
            {"dotdot2.tar",
             {{.path = "a/", .mode = AE_IFDIR | 0755}, {.path = "a/../../evil", .data = "x"}}},
            {"abs-symlink.tar",
             {{.path = "escape", .mode = AE_IFLNK | 0777, .link = sentinel_.string()},
              {.path = "escape/evil", .data = "x"}}},
            {"rel-symlink.tar",
             {{.path = "escape", .mode = AE_IFLNK | 0777, .link = "../../../../../" + out},
              {.path = "escape/evil", .data = "x"}}},
            {"hardlink.tar", {{.path = "h", .hardlink = "../../../../sentinel/../etc/passwd"}}},
            {"hardlink-abs.tar", {{.path = "h", .hardlink = "/etc/passwd"}}},
            {"symlink-then-hardlink.tar",
             {{.path = "escape", .mode = AE_IFLNK | 0777, .link = sentinel_.string()},
              {.path = "h", .hardlink = "escape/x"}}},
        };
        for (auto& [name, entries] : bad) {
            SCOPED_TRACE(name);
            try {
                snap_->apply("bad-" + name, string_reader(make_tar(entries)), name);
                ADD_FAILURE() << "accepted " << name;
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
            }
            EXPECT_FALSE(snap_->exists("bad-" + name));
        }
    }

    void apply_is_atomic() {
        std::string tar = make_tar({
            {.path = "big", .data = std::string(1 << 20, 'x')},
            {.path = "more", .data = "y"},
        });
        // Failing mid-stream: nothing under the key, the temporary is gone.
        bool seen_missing = false;
        std::size_t pos = 0;
        ReadFn failing = [&](void* buf, std::size_t n) -> std::size_t {
            seen_missing = !snap_->exists("k");
            if (pos > tar.size() / 2)
                throw Error("network gone");
            std::size_t k = std::min(n, tar.size() - pos);
            std::memcpy(buf, tar.data() + pos, k);
            pos += k;
            return k;
        };
        EXPECT_THROW(snap_->apply("k", failing, "k.tar"), Error);
        EXPECT_TRUE(seen_missing);
        EXPECT_FALSE(snap_->exists("k"));
        // A reader that verifies at its end (a one-pass pull's) and finds the
        // stream wrong: the tar was whole, yet nothing is published.
        // Zeros after the tar's end (as a registry's layer may carry): tar
        // readers stop at the end marker and leave them unread.
        auto whole = string_reader(tar + std::string(1 << 20, '\0'));
        ReadFn refuses_at_end = [whole](void* buf, std::size_t n) -> std::size_t {
            std::size_t k = whole(buf, n);
            if (k == 0)
                throw Error("digest mismatch");
            return k;
        };
        EXPECT_THROW(snap_->apply("k", refuses_at_end, "k.tar"), Error);
        EXPECT_FALSE(snap_->exists("k"));
        // Killed mid-stream: the same.
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            std::size_t p = 0;
            ReadFn dying = [&](void* buf, std::size_t n) -> std::size_t {
                if (p > tar.size() / 2)
                    ::_exit(0);
                std::size_t k = std::min(n, tar.size() - p);
                std::memcpy(buf, tar.data() + p, k);
                p += k;
                return k;
            };
            try {
                snap_->apply("k", dying, "k.tar");
            } catch (...) {
            }
            ::_exit(1);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        EXPECT_FALSE(snap_->exists("k"));
        // What the killed process left under tmp/ is garbage, never a snapshot.
        for (auto& e : fs::directory_iterator(root_ / "snapshots" / kind() / "tmp"))
            fs::remove_all(e.path());
        // Two at once: one unpacks, the other finds it done.
        std::atomic<int> readers{0};
        auto run = [&] {
            auto s = std::make_shared<std::string>(tar);
            auto r = string_reader(s);
            bool counted = false;
            snap_->apply(
                "k",
                [&, r](void* b, std::size_t n) {
                    if (!counted) {
                        counted = true;
                        ++readers;
                    }
                    return r(b, n);
                },
                "k.tar");
        };
        std::thread t1(run), t2(run);
        t1.join();
        t2.join();
        EXPECT_EQ(readers.load(), 1);
        EXPECT_EQ(read_all(snap_->path("k") / "more"), "y");
    }

    void failure_paths_leave_no_mount() {
        snap_->apply("base", string_reader(base_layer()), "base.tar");
        try {
            auto a = snap_->prepare({"base"});
            auto v = snap_->view({"base"});
            write(a->root() / "f", "x");
            throw std::runtime_error("step failed");
        } catch (const std::runtime_error&) {
        }
        EXPECT_EQ(mounts_under(dir_->path()), std::vector<std::string>{});
        // Busy (a process's cwd inside): still gone when dropped.
        {
            auto a = snap_->prepare({"base"});
            pid_t pid = ::fork();
            if (pid == 0) {
                if (::chdir(a->root().c_str()) != 0)
                    ::_exit(1);
                ::pause();
                ::_exit(0);
            }
            ::usleep(100 * 1000);
            a.reset();
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        EXPECT_EQ(mounts_under(dir_->path()), std::vector<std::string>{});
        // Views cannot be committed.
        auto v = snap_->view({"base"});
        EXPECT_THROW(snap_->commit(*v, "nope"), Error);
        EXPECT_FALSE(snap_->exists("nope"));
    }
};

#define KILN_SNAPSHOTTER_SCENARIOS(Fixture)        \
    TEST_F(Fixture, CommitAndView) {               \
        commit_and_view();                         \
    }                                              \
    TEST_F(Fixture, LayerRoundTripWithWhiteouts) { \
        layer_roundtrip();                         \
    }                                              \
    TEST_F(Fixture, PrepareOnNothingStackRemove) { \
        prepare_on_nothing_and_stack();            \
    }                                              \
    TEST_F(Fixture, DevicesAndOwnership) {         \
        devices_and_ownership();                   \
    }                                              \
    TEST_F(Fixture, MaliciousLayersRefused) {      \
        malicious_layers();                        \
    }                                              \
    TEST_F(Fixture, ApplyIsAtomicAndSerialised) {  \
        apply_is_atomic();                         \
    }                                              \
    TEST_F(Fixture, FailurePathsLeaveNoMount) {    \
        failure_paths_leave_no_mount();            \
    }

}  // namespace kiln::snapshotter::testing
