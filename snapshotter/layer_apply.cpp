#include "snapshotter/layer_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "base/limits.h"
#include "base/list_dir.h"
#include "base/unique_fd.h"
#include "snapshotter/tree.h"

namespace kiln::snapshotter {

namespace {

constexpr std::size_t kChunk = 128 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

struct ArchiveReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveReadFree>;

// What a tar entry names, as clean components: no "", "." or "..".
using Components = std::vector<std::string>;

std::string join(const Components& c, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        if (i)
            out += '/';
        out += c[i];
    }
    return out;
}
std::string join(const Components& c) {
    return join(c, c.size());
}

// Feeds libarchive from the caller's ReadFn; exceptions are parked here and
// rethrown once libarchive has returned.
struct Source {
    const ReadFn* read = nullptr;
    std::vector<char> buf = std::vector<char>(kChunk);
    std::exception_ptr error;
};

la_ssize_t read_cb(struct archive*, void* ctx, const void** out) {
    auto* s = static_cast<Source*>(ctx);
    if (s->error)
        return -1;
    try {
        *out = s->buf.data();
        return static_cast<la_ssize_t>((*s->read)(s->buf.data(), s->buf.size()));
    } catch (...) {
        s->error = std::current_exception();
        return -1;
    }
}

bool is_root() {
    return ::geteuid() == 0;
}

// overlayfs's own metadata: never taken from a layer.
bool overlay_xattr(const char* name) {
    std::string_view n(name);
    return n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.");
}

struct DirMeta {
    mode_t mode;
    timespec times[2];
};

class Applier {
  public:
    Applier(const std::filesystem::path& root, const std::string& source,
            const ApplyOptions& options)
        : root_path_(root), source_(source), options_(options) {
        root_ = UniqueFd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_)
            throw errno_error("cannot open " + root.string());
    }

    ApplyStats run(struct archive* a, Source& src) {
        for (;;) {
            archive_entry* e = nullptr;
            int rc = archive_read_next_header(a, &e);
            if (rc == ARCHIVE_EOF)
                break;
            // WARN covers names that cannot be converted to the locale: the raw bytes are kept.
            if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                fail_archive(a, src, current_);
            const char* name = archive_entry_pathname(e);
            if (name == nullptr)
                name = archive_entry_pathname_utf8(e);
            if (name == nullptr)
                throw err("an entry", "has no readable path");
            current_ = name;
            ++stats_.entries;
            apply_entry(a, src, e);
        }
        finish_dirs();
        return stats_;
    }

  private:
    Error err(const std::string& entry, const std::string& what) const {
        return Error(options_.kind + " " + source_ + ": entry \"" + entry + "\" " + what);
    }
    Error errno_err(const std::string& what) const {
        return Error(options_.kind + " " + source_ + ": entry \"" + current_ + "\": " + what +
                     ": " + std::strerror(errno));
    }

    [[noreturn]] void fail_archive(struct archive* a, Source& src, const std::string& after) {
        if (src.error)
            std::rethrow_exception(src.error);
        const char* msg = archive_error_string(a);
        std::string where = after.empty() ? "" : " after entry \"" + after + "\"";
        throw Error(options_.kind + " " + source_ + ": cannot read the tar" + where + ": " +
                    (msg ? msg : "unknown error"));
    }

    // `what` says which of the entry's paths this is, for the message.
    Components clean(const std::string& raw, const std::string& what = "path") const {
        if (!raw.empty() && raw[0] == '/') {
            throw err(current_, "has an absolute " + what + " \"" + raw + "\"; refusing it");
        }
        Components out;
        std::size_t pos = 0;
        while (pos <= raw.size()) {
            std::size_t slash = raw.find('/', pos);
            if (slash == std::string::npos)
                slash = raw.size();
            std::string c = raw.substr(pos, slash - pos);
            pos = slash + 1;
            if (c.empty() || c == ".")
                continue;
            if (c == "..") {
                throw err(current_, "has a " + what + " \"" + raw +
                                        "\" with a \"..\" component; refusing it");
            }
            out.push_back(std::move(c));
        }
        return out;
    }

    // Walks `dir` from the root one component at a time without following
    // any symlink. Missing directories are created when `create` is set;
    // otherwise an empty fd is returned for them.
    UniqueFd open_dir(const Components& dir, std::size_t n, bool create) {
        UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
        if (!cur)
            throw errno_err("cannot open " + root_path_.string());
        for (std::size_t i = 0; i < n; ++i) {
            const std::string& c = dir[i];
            UniqueFd next(
                ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next && errno == ENOENT && create) {
                if (::mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST) {
                    throw errno_err("cannot create directory " + join(dir, i + 1));
                }
                if (options_.owner && is_root() &&
                    ::fchownat(cur.get(), c.c_str(), options_.owner->first, options_.owner->second,
                               AT_SYMLINK_NOFOLLOW) != 0) {
                    throw errno_err("cannot set the owner of " + join(dir, i + 1));
                }
                created_.insert(join(dir, i + 1));
                next = UniqueFd(
                    ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            }
            if (!next) {
                if (errno == ENOENT && !create)
                    return {};
                if (errno == ELOOP || errno == ENOTDIR) {
                    struct stat st;
                    if (::fstatat(cur.get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(st.st_mode)) {
                        throw err(current_, "lies below the symlink \"" + join(dir, i + 1) +
                                                "\"; refusing to follow it");
                    }
                    throw err(current_,
                              "lies below \"" + join(dir, i + 1) + "\", which is not a directory");
                }
                throw errno_err("cannot open directory " + join(dir, i + 1));
            }
            cur = std::move(next);
        }
        return cur;
    }

    void remove_all_at(int parent, const std::string& name, const std::string& path) {
        struct stat st;
        if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                return;
            throw errno_err("cannot stat " + path);
        }
        if (S_ISDIR(st.st_mode)) {
            std::vector<std::string> children = list_dir(parent, name, path);
            UniqueFd d(open_subdir(parent, name, path));
            for (const std::string& child : children)
                remove_all_at(d.get(), child, path + "/" + child);
            dirs_.erase(path);
            if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) {
                throw errno_err("cannot remove " + path);
            }
        } else if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) {
            throw errno_err("cannot remove " + path);
        }
    }

    // Removes what lower layers put at `path`, keeping what this layer created.
    void remove_lower(int parent, const std::string& name, const std::string& path) {
        if (!created_.contains(path)) {
            remove_all_at(parent, name, path);
            return;
        }
        struct stat st;
        if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
            return;
        }
        UniqueFd d(open_subdir(parent, name, path));
        for (const std::string& child : list_dir(parent, name, path)) {
            remove_lower(d.get(), child, path + "/" + child);
        }
    }

    UniqueFd open_subdir(int parent, const std::string& name, const std::string& path) {
        UniqueFd d(::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d)
            throw errno_err("cannot open directory " + path);
        return d;
    }

    std::vector<std::string> list_dir(int parent, const std::string& name,
                                      const std::string& path) {
        UniqueFd fd(
            ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd)
            throw errno_err("cannot open directory " + path);
        return kiln::list_dir(fd.get(), path);
    }

    // Marks the directory at fd (any kind of fd) opaque, overlay's way.
    void set_opaque(int fd, const std::string& rel) {
        std::string p = "/proc/self/fd/" + std::to_string(fd);
        if (::setxattr(p.c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0)
            return;
        if (errno == EPERM && !is_root() &&
            ::setxattr(p.c_str(), "user.overlay.opaque", "y", 1, 0) == 0) {
            return;
        }
        throw errno_err("cannot mark directory \"" + rel + "\" opaque");
    }

    // Whiteouts kept in overlay form: 0/0 character devices and opaque directories.
    void overlay_whiteout(const Components& path, const std::string& base) {
        ++stats_.whiteouts;
        Components dir(path.begin(), path.end() - 1);
        UniqueFd parent = open_dir(dir, dir.size(), true);
        std::string dir_path = join(dir);
        std::string prefix = dir_path.empty() ? "" : dir_path + "/";
        if (base == kOpaque) {
            // Whiteouts of ours below are subsumed; this layer's own entries stay.
            for (const std::string& child : list_dir(parent.get(), ".", dir_path))
                remove_lower(parent.get(), child, prefix + child);
            set_opaque(parent.get(), dir_path.empty() ? "." : dir_path);
            return;
        }
        std::string target = base.substr(kWhiteoutPrefix.size());
        if (target.empty() || target == "." || target == "..") {
            throw err(current_, "is a whiteout for an invalid name");
        }
        std::string rel = prefix + target;
        struct stat st;
        if (::fstatat(parent.get(), target.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            // This layer put something there already: it hides the lower entry by itself,
            // except a directory, which must not show what lower layers had in it.
            if (S_ISDIR(st.st_mode) && created_.contains(rel)) {
                UniqueFd d(::openat(parent.get(), target.c_str(),
                                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!d)
                    throw errno_err("cannot open directory " + rel);
                set_opaque(d.get(), rel);
            }
            return;
        }
        if (errno != ENOENT)
            throw errno_err("cannot stat " + rel);
        if (::mknodat(parent.get(), target.c_str(), S_IFCHR, makedev(0, 0)) != 0)
            throw errno_err("cannot create the whiteout " + rel);
        whiteouts_.insert(rel);
    }

    void apply_whiteout(const Components& path, const std::string& base) {
        if (options_.overlay_whiteouts) {
            overlay_whiteout(path, base);
            return;
        }
        ++stats_.whiteouts;
        Components dir(path.begin(), path.end() - 1);
        UniqueFd parent = open_dir(dir, dir.size(), false);
        if (!parent)
            return;  // nothing below a missing directory to hide
        std::string dir_path = join(dir);
        std::string prefix = dir_path.empty() ? "" : dir_path + "/";
        if (base == kOpaque) {
            for (const std::string& child : list_dir(parent.get(), ".", dir_path)) {
                remove_lower(parent.get(), child, prefix + child);
            }
            return;
        }
        std::string target = base.substr(kWhiteoutPrefix.size());
        if (target.empty() || target == "." || target == "..") {
            throw err(current_, "is a whiteout for an invalid name");
        }
        remove_lower(parent.get(), target, prefix + target);
    }

    void apply_entry(struct archive* a, Source& src, archive_entry* e) {
        Components path = clean(current_);
        if (path.empty())
            return;  // the root itself: its metadata belongs to the snapshot
        const std::string& base = path.back();
        if (options_.whiteouts && base.starts_with(kWhiteoutPrefix)) {
            apply_whiteout(path, base);
            return;
        }
        std::string rel = join(path);
        UniqueFd parent = open_dir(path, path.size() - 1, true);
        int pfd = parent.get();
        const char* name = base.c_str();

        if (const char* link = archive_entry_hardlink(e)) {
            apply_hardlink(pfd, base, rel, link);
            created_.insert(rel);
            return;
        }

        mode_t type = archive_entry_filetype(e);
        // Sockets and unknown types carry nothing an image can use.
        if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
            type != AE_IFBLK && type != AE_IFIFO) {
            return;
        }
        struct stat old;
        bool exists = ::fstatat(pfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
        if (!exists && errno != ENOENT)
            throw errno_err("cannot stat " + rel);
        if (exists && !(type == AE_IFDIR && S_ISDIR(old.st_mode))) {
            remove_all_at(pfd, base, rel);
        }

        switch (type) {
            case AE_IFREG:
                write_file(a, src, e, pfd, base, rel);
                break;
            case AE_IFDIR:
                make_dir(e, pfd, base, rel, exists && S_ISDIR(old.st_mode));
                break;
            case AE_IFLNK:
                make_symlink(e, pfd, base, rel);
                break;
            case AE_IFCHR:
            case AE_IFBLK:
                if (options_.refuse_devices)
                    throw err(current_, "is a device node, which this output does not write");
                [[fallthrough]];
            case AE_IFIFO:
                if (!make_node(e, pfd, base, rel, type))
                    return;
                break;
            default:
                return;
        }
        created_.insert(rel);
    }

    void apply_hardlink(int pfd, const std::string& base, const std::string& rel,
                        const std::string& raw_target) {
        Components target = clean(raw_target, "hard link target");
        if (target.empty())
            throw err(current_, "is a hard link to the root directory");
        std::string target_rel = join(target);
        if (target_rel == rel)
            return;
        UniqueFd tparent = open_dir(target, target.size() - 1, false);
        struct stat st;
        if (!tparent ||
            ::fstatat(tparent.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            throw err(current_, "is a hard link to \"" + raw_target +
                                    "\", which does not exist in the layer's tree");
        }
        if (S_ISDIR(st.st_mode)) {
            throw err(current_, "is a hard link to the directory \"" + raw_target + "\"");
        }
        remove_all_at(pfd, base, rel);
        // Flags 0: a symlink target is linked itself, never followed.
        if (::linkat(tparent.get(), target.back().c_str(), pfd, base.c_str(), 0) != 0) {
            throw errno_err("cannot link to \"" + raw_target + "\"");
        }
    }

    void write_file(struct archive* a, Source& src, archive_entry* e, int pfd,
                    const std::string& base, const std::string& rel) {
        // Counted as declared, so sparse entries cannot hide a huge layer.
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
            total_ += static_cast<std::uint64_t>(archive_entry_size(e));
        if (total_ > max_layer_size())
            throw_layer_too_large(options_.kind + " " + source_);
        UniqueFd fd(::openat(pfd, base.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd)
            throw errno_err("cannot create " + rel);
        for (;;) {
            const void* block = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            int rc = archive_read_data_block(a, &block, &size, &offset);
            if (rc == ARCHIVE_EOF)
                break;
            if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                fail_archive(a, src, current_);
            const char* p = static_cast<const char*>(block);
            while (size > 0) {
                ssize_t n = ::pwrite(fd.get(), p, size, offset);
                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    throw errno_err("cannot write " + rel);
                }
                p += n;
                size -= static_cast<size_t>(n);
                offset += n;
            }
        }
        // Sparse entries may end in a hole that no block covers.
        if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0) {
            throw errno_err("cannot size " + rel);
        }
        set_owner_fd(fd.get(), e, rel);
        set_xattrs_fd(fd.get(), e, rel);
        if (::fchmod(fd.get(), archive_entry_mode(e) & 07777) != 0) {
            throw errno_err("cannot set the mode of " + rel);
        }
        auto ts = times(e);
        if (::futimens(fd.get(), ts.data()) != 0)
            throw errno_err("cannot set times of " + rel);
    }

    void make_dir(archive_entry* e, int pfd, const std::string& base, const std::string& rel,
                  bool existed) {
        if (!existed && ::mkdirat(pfd, base.c_str(), 0700) != 0) {
            throw errno_err("cannot create directory " + rel);
        }
        UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd)
            throw errno_err("cannot open directory " + rel);
        set_owner_fd(fd.get(), e, rel);
        set_xattrs_fd(fd.get(), e, rel);
        // Over a whiteout of this layer: the lower directory must not show through.
        if (options_.overlay_whiteouts && !existed && whiteouts_.contains(rel))
            set_opaque(fd.get(), rel);
        // Mode and times wait for the end: children still to come would bump
        // the mtime, and a read-only mode could lock them out.
        auto ts = times(e);
        dirs_[rel] = DirMeta{static_cast<mode_t>(archive_entry_mode(e) & 07777), {ts[0], ts[1]}};
    }

    void make_symlink(archive_entry* e, int pfd, const std::string& base, const std::string& rel) {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr)
            target = archive_entry_symlink_utf8(e);
        if (target == nullptr)
            throw err(current_, "is a symlink without a target");
        if (::symlinkat(target, pfd, base.c_str()) != 0)
            throw errno_err("cannot create symlink " + rel);
        set_owner_at(pfd, base, e, rel);
        set_xattrs_path(pfd, base, e, rel);
        auto ts = times(e);
        if (::utimensat(pfd, base.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0) {
            throw errno_err("cannot set times of " + rel);
        }
    }

    // Returns false when the node was skipped because creating it is not permitted.
    bool make_node(archive_entry* e, int pfd, const std::string& base, const std::string& rel,
                   mode_t type) {
        mode_t mode = type | (archive_entry_mode(e) & 07777);
        dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
        if (::mknodat(pfd, base.c_str(), mode, dev) != 0) {
            // Unprivileged builds cannot make devices; as rootless Docker does, go without.
            if (errno == EPERM && type != AE_IFIFO)
                return false;
            throw errno_err("cannot create node " + rel);
        }
        set_owner_at(pfd, base, e, rel);
        set_xattrs_path(pfd, base, e, rel);
        // The node was just made by us and is not a symlink, so following is moot.
        if (::fchmodat(pfd, base.c_str(), mode & 07777, 0) != 0) {
            throw errno_err("cannot set the mode of " + rel);
        }
        auto ts = times(e);
        if (::utimensat(pfd, base.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0) {
            throw errno_err("cannot set times of " + rel);
        }
        return true;
    }

    std::array<timespec, 2> times(archive_entry* e) const {
        timespec m{archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        timespec at = m;
        if (archive_entry_atime_is_set(e))
            at = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
        return {at, m};
    }

    std::pair<uid_t, gid_t> owner_of(archive_entry* e) const {
        if (options_.owner)
            return *options_.owner;
        return {static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))};
    }

    void set_owner_fd(int fd, archive_entry* e, const std::string& rel) {
        if (!is_root())
            return;
        auto [uid, gid] = owner_of(e);
        if (::fchown(fd, uid, gid) != 0) {
            throw errno_err("cannot set the owner of " + rel);
        }
    }

    void set_owner_at(int pfd, const std::string& base, archive_entry* e, const std::string& rel) {
        if (!is_root())
            return;
        auto [uid, gid] = owner_of(e);
        if (::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
            throw errno_err("cannot set the owner of " + rel);
        }
    }

    // ENOTSUP (the filesystem has no such namespace) and, when unprivileged,
    // EPERM (trusted.*, security.*) are skipped rather than failing the layer.
    // With best_effort_xattrs (ADD, as BuildKit's BestEffortXattrs) every error is.
    bool xattr_error_ok() const {
        return options_.best_effort_xattrs || errno == ENOTSUP || (errno == EPERM && !is_root());
    }

    void set_xattrs_fd(int fd, archive_entry* e, const std::string& rel) {
        archive_entry_xattr_reset(e);
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            if (options_.overlay_whiteouts && overlay_xattr(name))
                continue;
            if (::fsetxattr(fd, name, value, size, 0) != 0 && !xattr_error_ok()) {
                throw errno_err(std::string("cannot set extended attribute ") + name + " on " +
                                rel);
            }
        }
    }

    void set_xattrs_path(int pfd, const std::string& base, archive_entry* e,
                         const std::string& rel) {
        if (archive_entry_xattr_count(e) == 0)
            return;
        // No fd-based call sets xattrs on a symlink or device without opening
        // it; name it through the parent's fd instead, not following the last step.
        std::string p = "/proc/self/fd/" + std::to_string(pfd) + "/" + base;
        archive_entry_xattr_reset(e);
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            if (options_.overlay_whiteouts && overlay_xattr(name))
                continue;
            if (::lsetxattr(p.c_str(), name, value, size, 0) != 0 && !xattr_error_ok()) {
                throw errno_err(std::string("cannot set extended attribute ") + name + " on " +
                                rel);
            }
        }
    }

    void finish_dirs() {
        // Deepest first, so a read-only parent cannot lock out its children.
        std::vector<std::pair<std::string, DirMeta>> order(dirs_.begin(), dirs_.end());
        std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
            auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '/'); };
            return depth(x.first) > depth(y.first);
        });
        for (auto& [rel, meta] : order) {
            current_ = rel;
            Components path = clean(rel);
            UniqueFd parent = open_dir(path, path.size() - 1, false);
            if (!parent)
                continue;  // removed by a later whiteout
            UniqueFd fd(::openat(parent.get(), path.back().c_str(),
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) {
                if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
                    continue;
                throw errno_err("cannot open directory " + rel);
            }
            if (::fchmod(fd.get(), meta.mode) != 0)
                throw errno_err("cannot set the mode of " + rel);
            if (::futimens(fd.get(), meta.times) != 0)
                throw errno_err("cannot set times of " + rel);
        }
    }

    std::filesystem::path root_path_;
    std::string source_;
    ApplyOptions options_;
    UniqueFd root_;
    std::string current_;
    std::uint64_t total_ = 0;  // bytes of regular files so far
    ApplyStats stats_;
    // Paths this layer wrote: whiteouts hide only what lower layers put there.
    std::unordered_set<std::string> created_;
    std::map<std::string, DirMeta> dirs_;
    // Overlay mode: whiteout devices this layer made.
    std::unordered_set<std::string> whiteouts_;
};

}  // namespace

ApplyStats apply_layer(const ReadFn& read, const std::filesystem::path& root,
                       const std::string& source, const ApplyOptions& options) {
    Source src;
    src.read = &read;
    ArchivePtr a(archive_read_new());
    if (!a)
        throw Error("out of memory reading " + options.kind + " " + source);
    auto check = [&](int rc) {
        if (rc != ARCHIVE_OK) {
            if (src.error)
                std::rethrow_exception(src.error);
            const char* msg = archive_error_string(a.get());
            throw Error(options.kind + " " + source + ": " + (msg ? msg : "cannot read the tar"));
        }
    };
    check(archive_read_support_filter_all(a.get()));
    check(archive_read_support_format_tar(a.get()));
    Applier applier(root, source, options);
    check(archive_read_open(a.get(), &src, nullptr, read_cb, nullptr));
    ApplyStats stats = applier.run(a.get(), src);
    // Drain what follows the end-of-archive blocks so a verifying source
    // (BlobStore::Reader checks its digest at EOF) sees its end.
    while (read(src.buf.data(), src.buf.size()) > 0) {
    }
    return stats;
}

}  // namespace kiln::snapshotter
