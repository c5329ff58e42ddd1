#include "snapshotter/snapshotter.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <system_error>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/atomic_file.h"
#include "content/digest.h"
#include "content/file_lock.h"
#include "content/owner.h"
#include "snapshotter/flusher.h"
#include "snapshotter/mount.h"
#include "snapshotter/reaper.h"
#include "snapshotter/tree.h"

namespace kiln::snapshotter {

namespace fs = std::filesystem;

Active::~Active() = default;
Snapshotter::~Snapshotter() = default;

namespace {

void make_dirs(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec)
        throw Error("cannot create " + p.string() + ": " + ec.message());
}

void make_dir(const fs::path& p, mode_t mode) {
    if (::mkdir(p.c_str(), mode) != 0)
        throw errno_error("cannot create " + p.string());
    if (::chmod(p.c_str(), mode) != 0)  // not narrowed by the umask
        throw errno_error("cannot set the mode of " + p.string());
}

// Marks `dir` as the top of unrelated directory trees (chattr +T), so ext4
// places each new directory in it as it places top-level ones: in an emptier
// block group, not next to `dir` itself. Each snapshot is such a tree. Without
// it, the snapshots of a store that was just wiped (`kiln prune`, a CI cache
// removed) always go back into the groups the old ones freed, and there ext4
// without a journal checks each recently freed inode before it reuses one:
// copying a 20,000-file context took 3-5 s instead of about 1. With it they
// still land there sometimes (those groups are among the emptiest). A file
// system without the flag (not ext4) is left as it is.
void spread_children(const fs::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    int flags = 0;
    if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_TOPDIR_FL))
        return;
    flags |= FS_TOPDIR_FL;
    (void)::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
}

// A fresh directory "<parent>/<prefix>XXXXXX", removed with everything in it
// (never across a mount point) unless released: by `reaper` when given, at
// once otherwise.
class ScratchDir {
  public:
    ScratchDir(const fs::path& parent, const std::string& prefix, Reaper* reaper = nullptr)
        : reaper_(reaper) {
        std::string tmpl = (parent / (content::temp_prefix(prefix) + "XXXXXX")).string();
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (::mkdtemp(buf.data()) == nullptr)
            throw errno_error("cannot create a temporary directory in " + parent.string());
        path_ = buf.data();
    }
    ~ScratchDir() {
        if (path_.empty())
            return;
        if (reaper_)
            reaper_->remove(std::move(path_));
        else
            tree::remove_tree_quiet(path_);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }
    void release() { path_.clear(); }

  private:
    fs::path path_;
    Reaper* reaper_;
};

// Renames `from` to `to` unless `to` exists; returns whether it was renamed.
bool rename_into_place(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
        fsync_dir(to.parent_path());
        return true;
    }
    if (errno == EEXIST || errno == ENOTEMPTY)
        return false;
    throw errno_error("cannot move " + from.string() + " to " + to.string());
}

class SnapshotterBase;

// What both kinds' actives share: the directory they live in (removed by the
// snapshotter's reaper once the active is gone) and their parents.
class ActiveBase : public Active {
  public:
    ActiveBase(const SnapshotterBase* owner, const fs::path& tmp, Reaper& reaper,
               const std::string& prefix, std::vector<std::string> parents)
        : owner_(owner), dir_(tmp, prefix, &reaper), parents_(std::move(parents)) {}
    const SnapshotterBase* owner() const { return owner_; }
    const fs::path& dir() const { return dir_.path(); }
    const std::vector<std::string>& parents() const { return parents_; }
    bool is_view = false;
    bool is_edit = false;  // edit(): a plain tree at dir()/fs, no mount
    bool committed = false;

  private:
    const SnapshotterBase* owner_;
    ScratchDir dir_;
    std::vector<std::string> parents_;
};

// edit(): a plain tree, for either kind.
class EditActive : public ActiveBase {
  public:
    EditActive(const SnapshotterBase* owner, const fs::path& tmp, Reaper& reaper,
               const std::string& prefix, std::vector<std::string> parents)
        : ActiveBase(owner, tmp, reaper, prefix, std::move(parents)), fs_(dir() / "fs") {}
    const fs::path& root() const override { return fs_; }
    fs::path upper() const override { return fs_; }

  private:
    fs::path fs_;
};

class SnapshotterBase : public Snapshotter {
  public:
    SnapshotterBase(const fs::path& root, const std::string& kind)
        : kind_(kind), base_(root / kind), tmp_(base_ / "tmp"), locks_(base_ / "locks") {
        make_dirs(tmp_);
        spread_children(tmp_);
        make_dirs(locks_);
        flusher_ = std::make_unique<Flusher>(base_);
    }

    std::string kind() const override { return kind_; }

    bool exists(const std::string& key) const override {
        struct stat st;
        return ::lstat(dir_of(key).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }

    fs::path path(const std::string& key) const override {
        if (!exists(key))
            throw Error("no " + kind_ + " snapshot " + key + " (in " + base_.string() + ")");
        return dir_of(key) / "fs";
    }

    void remove(const std::string& key) override {
        FileLock lock(lock_of(key));
        if (!exists(key))
            return;
        ScratchDir gone(tmp_, "removed-");
        // A directory may be renamed over an empty one: it disappears from its key at once.
        if (::rename(dir_of(key).c_str(), gone.path().c_str()) != 0)
            throw errno_error("cannot remove snapshot " + key + " (" + dir_of(key).string() + ")");
        tree::remove_tree(gone.path());
        gone.release();
    }

    void apply(const std::string& key, const ReadFn& read, const std::string& source) override {
        FileLock lock(lock_of(key));
        if (exists(key)) {
            touch(key);
            return;
        }
        ScratchDir work(tmp_, "apply-");
        make_dir(work.path() / "fs", 0755);
        ApplyOptions opts;
        opts.overlay_whiteouts = true;
        apply_layer(read, work.path() / "fs", source, opts);
        nlohmann::json meta = {
            {"key", key}, {"parents", nlohmann::json::array()}, {"source", source}};
        publish(work, key, meta);
    }

    std::optional<std::string> note(const std::string& key) const override {
        std::ifstream in(dir_of(key) / "note", std::ios::binary);
        if (!in)
            return std::nullopt;
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }

    std::unique_ptr<Active> edit(const std::string& key) override {
        fs::path from = path(key);
        touch(key);
        auto a = std::make_unique<EditActive>(this, tmp(), reaper(), "edit-",
                                              std::vector<std::string>{});
        a->is_edit = true;
        make_dir(a->root(), 0755);
        UniqueFd src = tree::open_dir(from);
        UniqueFd dst = tree::open_dir(a->root());
        // The layer's own root directory carries no metadata of its own: a
        // layer tar has no entry for it.
        tree::merge_layer(src.get(), dst.get(), true, from.string(), true);
        return a;
    }

    void commit(Active& active, const std::string& key, const std::string& note,
                const std::string& source) override {
        auto* a = dynamic_cast<ActiveBase*>(&active);
        if (a == nullptr || a->owner() != this)
            throw Error("cannot commit " + key + ": the snapshot was not prepared by this " +
                        kind_ + " snapshotter");
        if (a->is_view)
            throw Error("cannot commit " + key + ": " + active.root().string() +
                        " is a read-only view");
        if (a->committed)
            throw Error("cannot commit " + key + ": the snapshot was committed already");
        FileLock lock(lock_of(key));
        if (exists(key)) {
            if (!a->is_edit)
                release(*a);
            a->committed = true;
            return;
        }
        ScratchDir work(tmp_, "commit-");
        if (a->is_edit) {
            if (::rename(a->root().c_str(), (work.path() / "fs").c_str()) != 0)
                throw errno_error("cannot move " + a->root().string() + " to " +
                                  (work.path() / "fs").string());
        } else {
            make_changes(*a, work.path() / "fs");
        }
        if (!note.empty())
            write_file_atomic(work.path() / "note", note);
        nlohmann::json meta = {{"key", key}, {"parents", a->parents()}};
        if (!source.empty())
            meta["source"] = source;
        publish(work, key, meta);
        a->committed = true;
    }

  protected:
    // Puts the active's changes at `out` (not existing yet) and unmounts it.
    virtual void make_changes(ActiveBase& a, const fs::path& out) = 0;
    // Unmounts and drops an active whose changes are not needed.
    virtual void release(ActiveBase& a) = 0;
    // Where actives' directories go once they are destroyed.
    Reaper& reaper() { return reaper_; }

    fs::path dir_of(const std::string& key) const {
        return base_ / std::string(content::Digest::of(key).hex());
    }
    fs::path lock_of(const std::string& key) const {
        return locks_ / (std::string(content::Digest::of(key).hex()) + ".lock");
    }
    const fs::path& tmp() const { return tmp_; }

    // The parents' committed trees, checked to exist, bottom → top.
    std::vector<fs::path> parent_dirs(const std::vector<std::string>& parents) const {
        std::vector<fs::path> out;
        for (const std::string& p : parents) {
            if (!exists(p))
                throw Error("cannot prepare a snapshot on " + p + ": no such " + kind_ +
                            " snapshot in " + base_.string());
            out.push_back(dir_of(p) / "fs");
            touch(p);
        }
        return out;
    }

    // Marks `key` used now: the collector removes least recently used
    // snapshots first (gc/inventory.h).
    void touch(const std::string& key) const {
        ::utimensat(AT_FDCWD, dir_of(key).c_str(), nullptr, 0);
    }

  private:
    void publish(ScratchDir& work, const std::string& key, const nlohmann::json& meta) {
        write_file_atomic(work.path() / "meta.json", meta.dump() + "\n");  // fsyncs work.path()
        if (rename_into_place(work.path(), dir_of(key)))
            work.release();
        flusher_->request();  // the files themselves: see flusher.h
    }

    std::string kind_;
    fs::path base_;
    fs::path tmp_;
    fs::path locks_;
    std::unique_ptr<Flusher> flusher_;  // waits, when destroyed, for what was published
    Reaper reaper_;  // destroyed first: what actives left is removed, then the flush awaited
};

// ---- overlayfs ----

class OverlayActive : public ActiveBase {
  public:
    using ActiveBase::ActiveBase;
    const fs::path& root() const override { return merged_; }
    fs::path upper() const override { return is_view ? fs::path() : dir() / "upper"; }

    fs::path merged_;
    Mount mount;  // declared after the directory (in ActiveBase): unmounted first
};

class OverlaySnapshotter : public SnapshotterBase {
  public:
    explicit OverlaySnapshotter(const fs::path& root) : SnapshotterBase(root, "overlayfs") {}

    std::unique_ptr<Active> prepare(const std::vector<std::string>& parents) override {
        return make(parents, false);
    }
    std::unique_ptr<Active> view(const std::vector<std::string>& parents) override {
        return make(parents, true);
    }

  protected:
    void make_changes(ActiveBase& base, const fs::path& out) override {
        auto& a = static_cast<OverlayActive&>(base);
        a.mount.unmount();
        if (::rename((a.dir() / "upper").c_str(), out.c_str()) != 0)
            throw errno_error("cannot move " + (a.dir() / "upper").string() + " to " +
                              out.string());
    }
    void release(ActiveBase& base) override { static_cast<OverlayActive&>(base).mount.unmount(); }

  private:
    std::unique_ptr<Active> make(const std::vector<std::string>& parents, bool view) {
        std::vector<fs::path> lowers = parent_dirs(parents);
        auto a = std::make_unique<OverlayActive>(this, tmp(), reaper(), view ? "view-" : "active-",
                                                 parents);
        a->is_view = view;
        a->merged_ = a->dir() / "merged";
        make_dir(a->merged_, 0755);
        make_dir(a->dir() / "empty", 0755);
        OverlaySpec spec;
        spec.dir = a->dir();
        spec.target = a->merged_;
        spec.writable = !view;
        for (auto it = lowers.rbegin(); it != lowers.rend(); ++it)
            spec.lowers.push_back(*it);
        if (view && lowers.empty())
            return a;  // nothing to show: the empty directory is the view
        // overlay needs one lower when writable and two when not; an empty
        // bottom layer also hides any whiteout of a lone parent.
        if (spec.lowers.size() < (view ? 2u : 1u))
            spec.lowers.push_back(a->dir() / "empty");
        if (!view) {
            make_dir(a->dir() / "upper", 0755);
            make_dir(a->dir() / "work", 0700);
        }
        a->mount = mount_overlay(spec);
        return a;
    }
};

// ---- native ----

class NativeActive : public ActiveBase {
  public:
    using ActiveBase::ActiveBase;
    const fs::path& root() const override { return fs_; }
    fs::path upper() const override {
        if (is_view)
            return {};
        fs::path out = dir() / "upper";
        tree::remove_tree(out);
        make_dir(out, 0755);
        diff_into(out);
        return out;
    }
    void diff_into(const fs::path& out) const {
        UniqueFd base = tree::open_dir(dir() / "lower");
        UniqueFd work = tree::open_dir(fs_);
        UniqueFd o = tree::open_dir(out);
        tree::diff_trees(base.get(), work.get(), o.get(), seen, fs_.string());
    }

    fs::path fs_;
    tree::InodeTimes seen;
};

class NativeSnapshotter : public SnapshotterBase {
  public:
    explicit NativeSnapshotter(const fs::path& root) : SnapshotterBase(root, "native") {}

    std::unique_ptr<Active> prepare(const std::vector<std::string>& parents) override {
        return make(parents, false);
    }
    std::unique_ptr<Active> view(const std::vector<std::string>& parents) override {
        return make(parents, true);
    }

  protected:
    void make_changes(ActiveBase& base, const fs::path& out) override {
        auto& a = static_cast<NativeActive&>(base);
        make_dir(out, 0755);
        a.diff_into(out);
    }
    void release(ActiveBase&) override {}

  private:
    std::unique_ptr<Active> make(const std::vector<std::string>& parents, bool view) {
        std::vector<fs::path> lowers = parent_dirs(parents);
        auto a = std::make_unique<NativeActive>(this, tmp(), reaper(), view ? "view-" : "active-",
                                                parents);
        a->is_view = view;
        a->fs_ = a->dir() / "fs";
        make_dir(a->fs_, 0755);
        UniqueFd work = tree::open_dir(a->fs_);
        UniqueFd lower;
        if (!view) {
            make_dir(a->dir() / "lower", 0755);
            lower = tree::open_dir(a->dir() / "lower");
        }
        for (const fs::path& l : lowers) {
            UniqueFd src = tree::open_dir(l);
            // Copies: a RUN may write into any file in place.
            tree::merge_layer(src.get(), work.get(), false, l.string());
            // The read-only reference for the diff at commit: links are enough.
            if (lower)
                tree::merge_layer(src.get(), lower.get(), true, l.string());
        }
        if (!view)
            a->seen = tree::record_inodes(work.get(), a->fs_.string());
        return a;
    }
};

}  // namespace

bool overlay_supported(const fs::path& dir) {
    try {
        make_dirs(dir);
        ScratchDir probe(dir, "overlay-probe-");
        make_dir(probe.path() / "lower", 0755);
        make_dir(probe.path() / "upper", 0755);
        make_dir(probe.path() / "work", 0700);
        make_dir(probe.path() / "merged", 0755);
        write_file_atomic(probe.path() / "lower" / "f", "x");
        OverlaySpec spec;
        spec.dir = probe.path();
        spec.lowers = {probe.path() / "lower"};
        spec.target = probe.path() / "merged";
        Mount m = mount_overlay(spec);
        // A deletion must come out as a whiteout in the upper directory.
        if (::unlink((spec.target / "f").c_str()) != 0)
            return false;
        m.unmount();
        struct stat st;
        return ::lstat((probe.path() / "upper" / "f").c_str(), &st) == 0 && tree::is_whiteout(st);
    } catch (const std::exception&) {
        return false;
    }
}

std::unique_ptr<Snapshotter> open_snapshotter(const fs::path& root, const std::string& kind,
                                              const fs::path& tmp_dir) {
    (void)tmp_dir;
    make_dirs(root);
    std::string k = kind;
    if (k == "auto")
        k = overlay_supported(root / "overlayfs" / "tmp") ? "overlayfs" : "native";
    if (k == "overlayfs")
        return std::make_unique<OverlaySnapshotter>(root);
    if (k == "native")
        return std::make_unique<NativeSnapshotter>(root);
    throw Error("unknown snapshotter \"" + kind + "\" (use auto, overlayfs or native)");
}

}  // namespace kiln::snapshotter
