#include "snapshotter/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "base/error.h"
#include "base/file_copy.h"
#include "base/list_dir.h"
#include "base/xattr.h"

namespace kiln::snapshotter::tree {

namespace fs = std::filesystem;

namespace {

constexpr const char* kOpaqueTrusted = "trusted.overlay.opaque";
constexpr const char* kOpaqueUser = "user.overlay.opaque";

std::string join(const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
}

std::string proc_path(int parent_fd, const std::string& name) {
    return "/proc/self/fd/" + std::to_string(parent_fd) + "/" + name;
}

struct stat stat_fd(int fd, const std::string& what) {
    struct stat st;
    if (::fstat(fd, &st) != 0)
        throw errno_error("cannot stat " + what);
    return st;
}

bool stat_at(int parent_fd, const std::string& name, struct stat& st, const std::string& what) {
    if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return true;
    if (errno == ENOENT)
        return false;
    throw errno_error("cannot stat " + what);
}

bool overlay_xattr(const std::string& name) {
    return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}

// ENOTSUP (no such namespace here) and, unprivileged, EPERM are skipped, as layer_apply does.
void set_xattrs(int parent_fd, const std::string& name, const Xattrs& xs, const std::string& what) {
    if (xs.empty())
        return;
    XattrTarget t = XattrTarget::at(parent_fd, name);
    for (const auto& [k, v] : xs)
        set_xattr(t, k, v, what, xattr_refusal_ok);
}

// Owner, mode, xattrs and times of a non-directory just created at parent_fd/name.
void set_meta_at(int parent_fd, const std::string& name, const struct stat& st, const Xattrs& xs,
                 const std::string& what) {
    if (is_root_user() &&
        ::fchownat(parent_fd, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
        throw errno_error("cannot set the owner of " + what);
    }
    // After chown, which clears setuid/setgid; symlinks have no mode of their own.
    if (!S_ISLNK(st.st_mode) && ::fchmodat(parent_fd, name.c_str(), st.st_mode & 07777, 0) != 0)
        throw errno_error("cannot set the mode of " + what);
    set_xattrs(parent_fd, name, xs, what);
    std::array<timespec, 2> ts{st.st_atim, st.st_mtim};
    if (::utimensat(parent_fd, name.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0)
        throw errno_error("cannot set times of " + what);
}

// A directory's metadata replaced by `st` and `xs` (stale xattrs removed).
void set_dir_meta(int fd, const struct stat& st, const Xattrs& xs, const std::string& what) {
    if (is_root_user() && ::fchown(fd, st.st_uid, st.st_gid) != 0)
        throw errno_error("cannot set the owner of " + what);
    if (::fchmod(fd, st.st_mode & 07777) != 0)
        throw errno_error("cannot set the mode of " + what);
    XattrTarget t = XattrTarget::fd(fd);
    for (const std::string& k : list_xattrs(t, what)) {
        if (overlay_xattr(k))
            continue;
        bool kept = std::any_of(xs.begin(), xs.end(), [&](const auto& x) { return x.first == k; });
        if (!kept)
            remove_xattr(t, k, what, xattr_refusal_ok);
    }
    for (const auto& [k, v] : xs)
        set_xattr(t, k, v, what, xattr_refusal_ok);
    std::array<timespec, 2> ts{st.st_atim, st.st_mtim};
    if (::futimens(fd, ts.data()) != 0)
        throw errno_error("cannot set times of " + what);
}

std::string read_link(int parent_fd, const std::string& name, const std::string& what) {
    std::string target(256, '\0');
    for (;;) {
        ssize_t n = ::readlinkat(parent_fd, name.c_str(), target.data(), target.size());
        if (n < 0)
            throw errno_error("cannot read symlink " + what);
        if (static_cast<std::size_t>(n) < target.size()) {
            target.resize(static_cast<std::size_t>(n));
            return target;
        }
        target.resize(target.size() * 2);
    }
}

struct CopyCtx {
    int dst_root = -1;
    bool merge = false;  // interpret whiteouts and opaque directories
    bool link = false;   // hard-link regular files
    std::string what;    // names the source tree in messages
    // Source inode → path (relative to dst_root) of its first copy: hard links stay links.
    std::map<std::pair<dev_t, ino_t>, std::string> links;
};

void copy_file(int src_fd, const std::string& name, const struct stat& st, int dst_fd,
               const std::string& what) {
    UniqueFd in(::openat(src_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in)
        throw errno_error("cannot open " + what);
    UniqueFd out(
        ::openat(dst_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out)
        throw errno_error("cannot create a copy of " + what);
    copy_file_data(in.get(), out.get(), what, what);
    if (is_root_user() && ::fchown(out.get(), st.st_uid, st.st_gid) != 0)
        throw errno_error("cannot set the owner of " + what);
    if (::fchmod(out.get(), st.st_mode & 07777) != 0)
        throw errno_error("cannot set the mode of " + what);
    set_xattrs(dst_fd, name, read_xattrs(src_fd, name, what), what);
    std::array<timespec, 2> ts{st.st_atim, st.st_mtim};
    if (::futimens(out.get(), ts.data()) != 0)
        throw errno_error("cannot set times of " + what);
}

void make_nondir(int src_fd, const std::string& name, const struct stat& st, int dst_fd,
                 const std::string& rel, CopyCtx& ctx) {
    std::string what = ctx.what + "/" + rel;
    if (S_ISREG(st.st_mode)) {
        if (ctx.link) {
            if (::linkat(src_fd, name.c_str(), dst_fd, name.c_str(), 0) == 0)
                return;
            if (errno != EXDEV && errno != EMLINK && errno != EPERM && errno != EACCES)
                throw errno_error("cannot link " + what);
        }
        if (st.st_nlink > 1) {
            auto [it, first] = ctx.links.try_emplace({st.st_dev, st.st_ino}, rel);
            if (!first) {
                if (::linkat(ctx.dst_root, it->second.c_str(), dst_fd, name.c_str(), 0) != 0)
                    throw errno_error("cannot link " + what + " to " + it->second);
                return;
            }
        }
        copy_file(src_fd, name, st, dst_fd, what);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        std::string target = read_link(src_fd, name, what);
        if (::symlinkat(target.c_str(), dst_fd, name.c_str()) != 0)
            throw errno_error("cannot create a copy of " + what);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        if (::mknodat(dst_fd, name.c_str(), st.st_mode & (S_IFMT | 07777), st.st_rdev) != 0) {
            if (errno == EPERM && !is_root_user() && !S_ISFIFO(st.st_mode))
                return;  // unprivileged: devices cannot be made, as layer_apply
            throw errno_error("cannot create a copy of " + what);
        }
    } else {
        return;  // sockets carry nothing a layer can hold
    }
    set_meta_at(dst_fd, name, st, read_xattrs(src_fd, name, what), what);
}

// `fresh`: dst_fd is a directory this copy just made, so nothing is in it yet
// (no stat of a destination per entry).
void copy_dir(int src_fd, int dst_fd, dev_t dev, const std::string& rel, CopyCtx& ctx,
              bool fresh = false);

// Copies (or merges) src_fd/name onto dst_fd/name.
void copy_entry(int src_fd, const std::string& name, const struct stat& st, int dst_fd, dev_t dev,
                const std::string& rel, CopyCtx& ctx, bool fresh) {
    std::string what = ctx.what + "/" + rel;
    struct stat dst;
    bool exists = !fresh && stat_at(dst_fd, name, dst, what);
    if (ctx.merge && is_whiteout(st)) {
        if (exists)
            remove_at(dst_fd, name, what);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (exists)
            remove_at(dst_fd, name, what);
        make_nondir(src_fd, name, st, dst_fd, rel, ctx);
        return;
    }
    if (st.st_dev != dev)
        throw Error("cannot copy " + what + ": another filesystem is mounted there");
    if (exists && (!S_ISDIR(dst.st_mode) || (ctx.merge && is_opaque(src_fd, name)))) {
        remove_at(dst_fd, name, what);
        exists = false;
    }
    if (!exists) {
        if (::mkdirat(dst_fd, name.c_str(), 0700) != 0)
            throw errno_error("cannot create a copy of " + what);
    } else if (!is_root_user() &&
               ::fchmodat(dst_fd, name.c_str(), (dst.st_mode | 0700) & 07777, 0) != 0) {
        throw errno_error("cannot make " + what + " writable");
    }
    UniqueFd s = open_subdir(src_fd, name, what);
    UniqueFd d = open_subdir(dst_fd, name, what);
    copy_dir(s.get(), d.get(), dev, rel, ctx, !exists);
    set_dir_meta(d.get(), st, read_xattrs(src_fd, name, what), what);
}

void copy_dir(int src_fd, int dst_fd, dev_t dev, const std::string& rel, CopyCtx& ctx, bool fresh) {
    for (const DirEntry& e : list_dir_typed(src_fd, ctx.what + "/" + rel)) {
        const std::string& name = e.name;
        // A regular file hard-linked into an empty directory needs nothing a
        // stat would tell (a whiteout is a device, never DT_REG): one call,
        // not two, per file of a 20,000-file clone. Anything else, a failed
        // link included, goes the long way.
        if (ctx.link && fresh && e.type == DT_REG &&
            ::linkat(src_fd, name.c_str(), dst_fd, name.c_str(), 0) == 0)
            continue;
        std::string crel = join(rel, name);
        struct stat st;
        if (!stat_at(src_fd, name, st, ctx.what + "/" + crel))
            continue;
        copy_entry(src_fd, name, st, dst_fd, dev, crel, ctx, fresh);
    }
}

bool same_time(const timespec& a, const timespec& b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

bool same_content(int base_fd, int work_fd, const std::string& name, const std::string& what) {
    UniqueFd a(::openat(base_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd b(::openat(work_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!a || !b)
        throw errno_error("cannot open " + what + " to compare it");
    std::vector<char> x(64 * 1024), y(64 * 1024);
    for (;;) {
        ssize_t n = ::read(a.get(), x.data(), x.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw errno_error("cannot read " + what);
        std::size_t got = 0;
        while (got < static_cast<std::size_t>(n)) {
            ssize_t m = ::read(b.get(), y.data() + got, static_cast<std::size_t>(n) - got);
            if (m < 0 && errno == EINTR)
                continue;
            if (m < 0)
                throw errno_error("cannot read " + what);
            if (m == 0)
                return false;
            got += static_cast<std::size_t>(m);
        }
        if (std::memcmp(x.data(), y.data(), got) != 0)
            return false;
        if (n == 0) {
            char c;
            return ::read(b.get(), &c, 1) == 0;
        }
    }
}

// The identity statx reports for parent_fd/name.
Seen identity(int parent_fd, const std::string& name, const std::string& what) {
    struct statx sx;
    if (::statx(parent_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_CTIME | STATX_BTIME, &sx) != 0)
        throw errno_error("cannot stat " + what);
    Seen s;
    s.ctime = {static_cast<time_t>(sx.stx_ctime.tv_sec), static_cast<long>(sx.stx_ctime.tv_nsec)};
    s.has_btime = (sx.stx_mask & STATX_BTIME) != 0;
    if (s.has_btime) {
        s.btime = {static_cast<time_t>(sx.stx_btime.tv_sec),
                   static_cast<long>(sx.stx_btime.tv_nsec)};
    }
    return s;
}

// Whether the inode at parent_fd/name is the one prepare() saw (not a new one
// that reuses its number); with `unchanged`, also that it was not touched since.
bool seen_before(int parent_fd, const std::string& name, const struct stat& st,
                 const InodeTimes& seen, bool unchanged, const std::string& what) {
    auto it = seen.find(st.st_ino);
    if (it == seen.end())
        return false;
    Seen now = identity(parent_fd, name, what);
    if (it->second.has_btime && now.has_btime && !same_time(it->second.btime, now.btime))
        return false;
    return !unchanged || same_time(it->second.ctime, now.ctime);
}

bool nondir_differs(int base_fd, int work_fd, const std::string& name, const struct stat& b,
                    const struct stat& w, const InodeTimes& seen, const std::string& what) {
    if (b.st_mode != w.st_mode || b.st_uid != w.st_uid || b.st_gid != w.st_gid)
        return true;
    if ((S_ISCHR(w.st_mode) || S_ISBLK(w.st_mode)) && b.st_rdev != w.st_rdev)
        return true;
    if (!same_time(b.st_mtim, w.st_mtim) || b.st_size != w.st_size)
        return true;
    if (S_ISLNK(w.st_mode) && read_link(base_fd, name, what) != read_link(work_fd, name, what)) {
        return true;
    }
    if (read_xattrs(base_fd, name, what) != read_xattrs(work_fd, name, what))
        return true;
    if (!S_ISREG(w.st_mode))
        return false;
    // Untouched since prepare copied it: same inode, same ctime.
    if (seen_before(work_fd, name, w, seen, true, what))
        return false;
    return !same_content(base_fd, work_fd, name, what);
}

bool diff_dir(int base_fd, int work_fd, int out_fd, dev_t dev, const std::string& rel,
              const InodeTimes& seen, CopyCtx& ctx) {
    std::string where = ctx.what + "/" + rel;
    std::vector<std::string> base_names = list_dir(base_fd, where);
    std::vector<std::string> work_names = list_dir(work_fd, where);
    std::set<std::string> work_set(work_names.begin(), work_names.end());
    bool changed = false;
    for (const std::string& name : base_names) {
        if (work_set.contains(name))
            continue;
        if (::mknodat(out_fd, name.c_str(), S_IFCHR, makedev(0, 0)) != 0)
            throw errno_error("cannot create the whiteout for " + ctx.what + "/" + join(rel, name));
        changed = true;
    }
    for (const std::string& name : work_names) {
        std::string crel = join(rel, name);
        std::string what = ctx.what + "/" + crel;
        struct stat w, b;
        if (!stat_at(work_fd, name, w, what) || S_ISSOCK(w.st_mode))
            continue;
        if (!stat_at(base_fd, name, b, what)) {
            copy_entry(work_fd, name, w, out_fd, dev, crel, ctx, false);
            changed = true;
            continue;
        }
        if (!S_ISDIR(w.st_mode)) {
            if (S_ISDIR(b.st_mode) || nondir_differs(base_fd, work_fd, name, b, w, seen, what)) {
                copy_entry(work_fd, name, w, out_fd, dev, crel, ctx, false);
                changed = true;
            }
            continue;
        }
        if (w.st_dev != dev)
            throw Error("cannot diff " + what + ": another filesystem is mounted there");
        if (!S_ISDIR(b.st_mode)) {
            copy_entry(work_fd, name, w, out_fd, dev, crel, ctx, false);
            changed = true;
            continue;
        }
        Xattrs wx = read_xattrs(work_fd, name, what);
        if (::mkdirat(out_fd, name.c_str(), 0700) != 0)
            throw errno_error("cannot create " + what + " in the diff");
        UniqueFd ws = open_subdir(work_fd, name, what);
        UniqueFd os = open_subdir(out_fd, name, what);
        if (!seen_before(work_fd, name, w, seen, false, what)) {
            // Made after prepare over a directory that was there: it replaced it.
            set_opaque(os.get(), what);
            copy_dir(ws.get(), os.get(), dev, crel, ctx);
            set_dir_meta(os.get(), w, wx, what);
            changed = true;
            continue;
        }
        UniqueFd bs = open_subdir(base_fd, name, what);
        bool sub = diff_dir(bs.get(), ws.get(), os.get(), dev, crel, seen, ctx);
        bool meta = b.st_mode != w.st_mode || b.st_uid != w.st_uid || b.st_gid != w.st_gid ||
                    read_xattrs(base_fd, name, what) != wx;
        if (sub || meta) {
            set_dir_meta(os.get(), w, wx, what);
            changed = true;
        } else if (::unlinkat(out_fd, name.c_str(), AT_REMOVEDIR) != 0) {
            throw errno_error("cannot remove " + what + " from the diff");
        }
    }
    return changed;
}

void record_dir(int fd, dev_t dev, const std::string& what, InodeTimes& out) {
    for (const std::string& name : list_dir(fd, what)) {
        struct stat st;
        std::string cw = what + "/" + name;
        if (!stat_at(fd, name, st, cw))
            continue;
        out[st.st_ino] = identity(fd, name, cw);
        if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
            UniqueFd sub = open_subdir(fd, name, cw);
            record_dir(sub.get(), dev, cw, out);
        }
    }
}

}  // namespace

bool is_root_user() {
    return ::geteuid() == 0;
}

bool is_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool is_opaque(int parent_fd, const std::string& name) {
    std::string p = proc_path(parent_fd, name);
    for (const char* attr : {kOpaqueTrusted, kOpaqueUser}) {
        char v[4];
        ssize_t n = ::lgetxattr(p.c_str(), attr, v, sizeof v);
        if (n == 1 && v[0] == 'y')
            return true;
    }
    return false;
}

void set_opaque(int dir_fd, const std::string& what) {
    if (::fsetxattr(dir_fd, kOpaqueTrusted, "y", 1, 0) == 0)
        return;
    if (errno == EPERM && !is_root_user() && ::fsetxattr(dir_fd, kOpaqueUser, "y", 1, 0) == 0)
        return;
    throw errno_error("cannot mark " + what + " opaque");
}

Xattrs read_xattrs(int parent_fd, const std::string& name, const std::string& what) {
    return kiln::read_xattrs(XattrTarget::at(parent_fd, name), what, XattrReadErrors::strict,
                             [](const std::string& k) { return !overlay_xattr(k); });
}

UniqueFd open_dir(const fs::path& p) {
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        throw errno_error("cannot open directory " + p.string());
    return fd;
}

UniqueFd open_subdir(int parent_fd, const std::string& name, const std::string& what) {
    UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        throw errno_error("cannot open directory " + what);
    return fd;
}

void remove_at(int parent_fd, const std::string& name, const std::string& what) {
    struct stat st;
    if (!stat_at(parent_fd, name, st, what))
        return;
    if (!S_ISDIR(st.st_mode)) {
        if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT)
            throw errno_error("cannot remove " + what);
        return;
    }
    if (st.st_dev != stat_fd(parent_fd, what).st_dev)
        throw Error("refusing to remove " + what + ": another filesystem is mounted there");
    {
        if (!is_root_user())
            ::fchmodat(parent_fd, name.c_str(), 0700, 0);  // best effort: lets us empty it
        UniqueFd sub = open_subdir(parent_fd, name, what);
        for (const std::string& child : list_dir(sub.get(), what))
            remove_at(sub.get(), child, what + "/" + child);
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        throw errno_error("cannot remove " + what);
}

void remove_tree(const fs::path& p) {
    fs::path abs = fs::absolute(p).lexically_normal();
    if (abs.filename().empty())
        abs = abs.parent_path();
    UniqueFd parent(
        ::open(abs.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!parent) {
        if (errno == ENOENT)
            return;
        throw errno_error("cannot open " + abs.parent_path().string());
    }
    remove_at(parent.get(), abs.filename().string(), abs.string());
}

void remove_tree_quiet(const fs::path& p) noexcept {
    try {
        remove_tree(p);
    } catch (...) {
        // A destructor's best effort: what is left is garbage under tmp/.
    }
}

void merge_layer(int src_fd, int dst_fd, bool link, const std::string& what, bool into_empty) {
    CopyCtx ctx;
    ctx.dst_root = dst_fd;
    ctx.merge = true;
    ctx.link = link;
    ctx.what = what;
    copy_dir(src_fd, dst_fd, stat_fd(src_fd, what).st_dev, "", ctx, into_empty);
}

void copy_tree(int src_fd, int dst_fd, const std::string& what) {
    CopyCtx ctx;
    ctx.dst_root = dst_fd;
    ctx.what = what;
    copy_dir(src_fd, dst_fd, stat_fd(src_fd, what).st_dev, "", ctx);
}

InodeTimes record_inodes(int dir_fd, const std::string& what) {
    InodeTimes out;
    struct stat st = stat_fd(dir_fd, what);
    out[st.st_ino] = identity(dir_fd, ".", what);
    record_dir(dir_fd, st.st_dev, what, out);
    return out;
}

bool diff_trees(int base_fd, int work_fd, int out_fd, const InodeTimes& seen,
                const std::string& what) {
    CopyCtx ctx;
    ctx.dst_root = out_fd;
    ctx.what = what;
    return diff_dir(base_fd, work_fd, out_fd, stat_fd(work_fd, what).st_dev, "", seen, ctx);
}

}  // namespace kiln::snapshotter::tree
