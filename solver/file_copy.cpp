#include "solver/file_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "base/error.h"
#include "base/file_copy.h"
#include "base/list_dir.h"
#include "base/root_dir.h"
#include "base/unique_fd.h"
#include "base/xattr.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

mode_t mode_of(const struct stat& st, const CopyOptions& o) {
    if (o.mode)
        return o.mode->apply(st.st_mode, S_ISDIR(st.st_mode));
    return st.st_mode & 07777;
}

uid_t uid_of(const struct stat& st, const CopyOptions& o) {
    return o.owner ? o.owner->uid : st.st_uid;
}

gid_t gid_of(const struct stat& st, const CopyOptions& o) {
    return o.owner ? o.owner->gid : st.st_gid;
}

UniqueFd open_at(int dir, const std::string& name, int flags, const std::string& what) {
    // 0600 until set_metadata gives the entry its mode.
    UniqueFd fd(::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd)
        throw errno_error("cannot open " + what);
    return fd;
}

// Copies every extended attribute of the open `src` to the open `dst`.
// Attributes that cannot be read, or that the destination filesystem or namespace refuses
// (ENOTSUP, EPERM for trusted.* without the capability, EACCES), are skipped, as cp -a does.
void copy_xattrs(int src, int dst, const std::string& what) {
    kiln::copy_xattrs(XattrTarget::fd(src), XattrTarget::fd(dst), what, XattrReadErrors::skip,
                      xattr_refusal_ok_copy, all_xattrs);
}

// Owner, then mode (chown clears setuid/setgid), then times, on an open entry.
void set_metadata(int fd, const struct stat& st, const CopyOptions& o, const std::string& what) {
    if (::fchown(fd, uid_of(st, o), gid_of(st, o)) != 0 && ::geteuid() == 0)
        throw errno_error("cannot set owner of " + what);
    if (::fchmod(fd, mode_of(st, o)) != 0)
        throw errno_error("cannot chmod " + what);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::futimens(fd, ts);
}

// Makes room for a non-directory at dst: a file or link there goes, a
// directory stays and is an error (BuildKit: "cannot replace to directory").
void clear_for_file(const Place& dst) {
    struct stat st;
    if (::fstatat(dst.dir, dst.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return;
        throw errno_error("cannot replace " + dst.path);
    }
    if (S_ISDIR(st.st_mode))
        throw Error("cannot replace directory " + dst.path + " with a file");
    if (::unlinkat(dst.dir, dst.name.c_str(), 0) != 0)
        throw errno_error("cannot replace " + dst.path);
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string leaf_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A regular file at dst, where nothing is: content, xattrs, then metadata.
void write_new_file(const Place& src, const struct stat& st, const Place& dst,
                    const CopyOptions& o) {
    UniqueFd in = open_at(src.dir, src.name, O_RDONLY, src.path);
    UniqueFd out = open_at(dst.dir, dst.name, O_WRONLY | O_CREAT | O_EXCL, dst.path);
    copy_file_data(in.get(), out.get(), src.path, dst.path);
    copy_xattrs(in.get(), out.get(), dst.path);
    set_metadata(out.get(), st, o, dst.path);
}

// A hard link to the first copy of this inode, when there was one.
bool link_to_first(const Place& dst, const struct stat& st, LinkMap* links) {
    if (!links || links->root < 0 || st.st_nlink < 2)
        return false;
    auto key = std::make_pair(st.st_dev, st.st_ino);
    auto it = links->first.find(key);
    if (it == links->first.end()) {
        links->first[key] = dst.path;
        return false;
    }
    std::string parent = parent_of(it->second);
    UniqueFd dir = parent.find_first_not_of('/') == std::string::npos
                       ? UniqueFd(::fcntl(links->root, F_DUPFD_CLOEXEC, 0))
                       : open_beneath(links->root, parent, O_PATH | O_DIRECTORY);
    if (::linkat(dir.get(), leaf_of(it->second).c_str(), dst.dir, dst.name.c_str(), 0) != 0)
        throw errno_error("cannot link " + dst.path);
    return true;
}

}  // namespace

bool journal_keeps(const Place& src, const struct stat& st, const Place& dst,
                   const CopyOptions& o) {
    if (!o.journal)
        return false;
    const mode_t mode = mode_of(st, o);
    const uid_t uid = uid_of(st, o);
    const gid_t gid = gid_of(st, o);
    const bool kept =
        S_ISREG(st.st_mode) && st.st_nlink < 2 && o.journal->keep(src, st, dst, mode, uid, gid);
    o.journal->noted(src, st, dst, !kept, mode, uid, gid);
    return kept;
}

void write_file(const Place& src, const struct stat& st, const Place& dst, const CopyOptions& o) {
    clear_for_file(dst);
    write_new_file(src, st, dst, o);
}

void copy_entry(const Place& src, const struct stat& st, const Place& dst, const CopyOptions& o,
                LinkMap* links) {
    if (S_ISDIR(st.st_mode)) {
        struct stat dst_st;
        bool exists = ::fstatat(dst.dir, dst.name.c_str(), &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && !S_ISDIR(dst_st.st_mode))
            throw Error("cannot copy to non-directory: " + dst.path);
        if (o.journal)
            o.journal->noted(src, st, dst, !exists, mode_of(st, o), uid_of(st, o), gid_of(st, o));
        if (!exists) {
            if (::mkdirat(dst.dir, dst.name.c_str(), 0700) != 0)
                throw errno_error("cannot create " + dst.path);
        } else if (!o.update_dir && !(o.journal && o.journal->made_by_copy(dst))) {
            return;  // an existing directory keeps its mode and owner, as Docker does
        }
        UniqueFd in = open_at(src.dir, src.name, O_RDONLY | O_DIRECTORY, src.path);
        UniqueFd out = open_at(dst.dir, dst.name, O_RDONLY | O_DIRECTORY, dst.path);
        copy_xattrs(in.get(), out.get(), dst.path);
        set_metadata(out.get(), st, o, dst.path);
        return;
    }
    if (journal_keeps(src, st, dst, o))
        return;
    clear_for_file(dst);
    if (link_to_first(dst, st, links))
        return;
    if (S_ISREG(st.st_mode)) {
        write_new_file(src, st, dst, o);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        std::vector<char> buf(static_cast<size_t>(st.st_size) + 1);
        ssize_t n = ::readlinkat(src.dir, src.name.c_str(), buf.data(), buf.size());
        if (n < 0)
            throw errno_error("cannot read link " + src.path);
        std::string target(buf.data(), static_cast<size_t>(n));
        if (::symlinkat(target.c_str(), dst.dir, dst.name.c_str()) != 0)
            throw errno_error("cannot create symlink " + dst.path);
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        if (::mknodat(dst.dir, dst.name.c_str(), st.st_mode, st.st_rdev) != 0)
            throw errno_error("cannot create " + dst.path);
    } else {
        throw Error("cannot copy " + src.path + ": unsupported file type");
    }
    if (::fchownat(dst.dir, dst.name.c_str(), uid_of(st, o), gid_of(st, o), AT_SYMLINK_NOFOLLOW) !=
            0 &&
        ::geteuid() == 0)
        throw errno_error("cannot set owner of " + dst.path);
    // A node just made by us is not a link, so following it is moot.
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst.dir, dst.name.c_str(), mode_of(st, o), 0) != 0)
        throw errno_error("cannot chmod " + dst.path);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::utimensat(dst.dir, dst.name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

void copy_tree(const Place& src, const Place& dst, const CopyOptions& o, LinkMap& links) {
    struct stat st;
    if (::fstatat(src.dir, src.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw errno_error("cannot stat " + src.path);
    copy_entry(src, st, dst, o, &links);
    if (!S_ISDIR(st.st_mode))
        return;
    UniqueFd in = open_at(src.dir, src.name, O_RDONLY | O_DIRECTORY, src.path);
    UniqueFd out = open_at(dst.dir, dst.name, O_RDONLY | O_DIRECTORY, dst.path);
    for (const auto& n : list_dir(in.get(), src.path))
        copy_tree({in.get(), n, src.path + "/" + n}, {out.get(), n, dst.path + "/" + n}, o, links);
    // Children change a directory's mtime: put it back.
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::futimens(out.get(), ts);
}

void copy_tree(const fs::path& src, const fs::path& dst, const CopyOptions& o) {
    UniqueFd sp(::open(src.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!sp)
        throw errno_error("cannot open " + src.parent_path().string());
    UniqueFd dp(::open(dst.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dp)
        throw errno_error("cannot open " + dst.parent_path().string());
    LinkMap links;
    links.root = dp.get();
    copy_tree({sp.get(), src.filename(), src.string()},
              {dp.get(), dst.filename(), dst.filename().string()}, o, links);
}

namespace {

[[noreturn]] void bad_chmod(const std::string& text) {
    throw Error("invalid --chmod value \"" + text +
                "\" (want an octal mode such as 0755 or a symbolic one such as u+x,go-w)");
}

mode_t who_mask(char c) {
    switch (c) {
        case 'u':
            return S_ISUID | S_IRWXU;
        case 'g':
            return S_ISGID | S_IRWXG;
        case 'o':
            return S_ISVTX | S_IRWXO;
        default:
            return 07777;
    }
}

// The rwx bits of class `c` in `mode`, replicated to all three classes.
mode_t class_bits(mode_t mode, char c) {
    mode_t b = 0;
    if (c == 'u')
        b = (mode >> 6) & 7;
    else if (c == 'g')
        b = (mode >> 3) & 7;
    else
        b = mode & 7;
    return b << 6 | b << 3 | b;
}

}  // namespace

ChmodSpec ChmodSpec::octal(mode_t bits) {
    ChmodSpec c;
    c.octal_ = bits & 07777;
    std::string t;
    for (mode_t v = bits & 07777; v; v >>= 3)
        t.insert(t.begin(), static_cast<char>('0' + (v & 7)));
    c.text_ = "0" + t;
    return c;
}

ChmodSpec ChmodSpec::parse(const std::string& text) {
    ChmodSpec c;
    c.text_ = text;
    if (text.empty())
        bad_chmod(text);
    if (std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '7'; })) {
        // As BuildKit: any octal string whose value is at most 07777.
        size_t first = text.find_first_not_of('0');
        if (first != std::string::npos && text.size() - first > 4)
            bad_chmod(text);
        unsigned long v = std::stoul(text, nullptr, 8);
        if (v > 07777)
            bad_chmod(text);
        c.octal_ = static_cast<mode_t>(v);
        return c;
    }
    size_t i = 0;
    for (;;) {
        Clause cl;
        bool any_who = false;
        while (i < text.size() && std::strchr("ugoa", text[i]) && text[i] != 0) {
            cl.who |= who_mask(text[i]);
            any_who = true;
            ++i;
        }
        if (!any_who)
            cl.who = 07777;
        if (i >= text.size() || !std::strchr("+-=", text[i]))
            bad_chmod(text);
        while (i < text.size() && std::strchr("+-=", text[i]) && text[i] != 0) {
            Action a;
            a.op = text[i++];
            if (i < text.size() && std::strchr("ugo", text[i]) && text[i] != 0) {
                a.copy_from = text[i++];
            } else {
                while (i < text.size() && std::strchr("rwxXst", text[i]) && text[i] != 0) {
                    switch (text[i]) {
                        case 'r':
                            a.perm |= 0444;
                            break;
                        case 'w':
                            a.perm |= 0222;
                            break;
                        case 'x':
                            a.perm |= 0111;
                            break;
                        case 'X':
                            a.cond_x = true;
                            break;
                        case 's':
                            a.perm |= S_ISUID | S_ISGID;
                            break;
                        case 't':
                            a.perm |= S_ISVTX;
                            break;
                    }
                    ++i;
                }
            }
            cl.actions.push_back(a);
        }
        c.clauses_.push_back(std::move(cl));
        if (i == text.size())
            break;
        if (text[i] != ',' || i + 1 == text.size())
            bad_chmod(text);
        ++i;
    }
    return c;
}

mode_t ChmodSpec::apply(mode_t mode, bool is_dir) const {
    if (octal_)
        return *octal_;
    mode_t m = mode & 07777;
    for (const auto& cl : clauses_) {
        for (const auto& a : cl.actions) {
            mode_t bits = a.perm;
            if (a.copy_from)
                bits = class_bits(m, a.copy_from);
            if (a.cond_x && (is_dir || (m & 0111)))
                bits |= 0111;
            bits &= cl.who;
            switch (a.op) {
                case '+':
                    m |= bits;
                    break;
                case '-':
                    m &= ~bits;
                    break;
                default: {
                    mode_t cleared = cl.who;
                    // As chmod(1): "=" leaves a directory's setuid/setgid bits alone
                    // unless they are named.
                    if (is_dir)
                        cleared &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
                    m = (m & ~cleared) | bits;
                }
            }
        }
    }
    return m & 07777;
}

}  // namespace kiln::solver
