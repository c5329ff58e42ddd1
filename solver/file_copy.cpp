#include "solver/file_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "content/error.h"
#include "content/unique_fd.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

void set_times(const fs::path& p, const struct stat& st, bool nofollow) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::utimensat(AT_FDCWD, p.c_str(), ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
}

void set_owner(const fs::path& p, const struct stat& st, const CopyOptions& o) {
    uid_t uid = o.owner ? o.owner->uid : st.st_uid;
    gid_t gid = o.owner ? o.owner->gid : st.st_gid;
    if (::lchown(p.c_str(), uid, gid) != 0 && ::geteuid() == 0) {
        throw errno_error("cannot set owner of " + p.string());
    }
}

mode_t mode_of(const struct stat& st, const CopyOptions& o) {
    if (o.mode)
        return o.mode->apply(st.st_mode, S_ISDIR(st.st_mode));
    return st.st_mode & 07777;
}

// Copies every extended attribute of `src` to `dst` (neither followed when a symlink).
// Attributes the destination filesystem or namespace refuses (ENOTSUP, EPERM for
// trusted.* without the capability) are skipped, as cp -a does.
void copy_xattrs(const fs::path& src, const fs::path& dst) {
    ssize_t len = ::llistxattr(src.c_str(), nullptr, 0);
    if (len <= 0)
        return;
    std::vector<char> names(static_cast<size_t>(len));
    len = ::llistxattr(src.c_str(), names.data(), names.size());
    if (len <= 0)
        return;
    std::vector<char> value;
    for (size_t i = 0; i < static_cast<size_t>(len);) {
        const char* name = names.data() + i;
        i += std::strlen(name) + 1;
        ssize_t vlen = ::lgetxattr(src.c_str(), name, nullptr, 0);
        if (vlen < 0)
            continue;
        value.resize(static_cast<size_t>(vlen) + 1);
        vlen = ::lgetxattr(src.c_str(), name, value.data(), value.size());
        if (vlen < 0)
            continue;
        if (::lsetxattr(dst.c_str(), name, value.data(), static_cast<size_t>(vlen), 0) != 0 &&
            errno != ENOTSUP && errno != EPERM && errno != EACCES) {
            throw errno_error("cannot set extended attribute " + std::string(name) + " on " +
                              dst.string());
        }
    }
}

void remove_non_dir(const fs::path& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        std::error_code ec;
        fs::remove_all(p, ec);
        if (ec)
            throw Error("cannot replace " + p.string() + ": " + ec.message());
    } else if (::unlink(p.c_str()) != 0) {
        throw errno_error("cannot replace " + p.string());
    }
}

void copy_file_data(const fs::path& src, const fs::path& dst, mode_t mode) {
    UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!in)
        throw errno_error("cannot read " + src.string());
    UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out)
        throw errno_error("cannot create " + dst.string());
    for (;;) {
        ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
        if (n == 0)
            break;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            throw errno_error("cannot copy " + src.string());
        // Fall back to read/write (different filesystems on old kernels).
        char buf[1 << 16];
        for (;;) {
            ssize_t r = ::read(in.get(), buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                throw errno_error("cannot read " + src.string());
            if (r == 0)
                break;
            write_all(out.get(), buf, static_cast<size_t>(r), dst.c_str());
        }
        break;
    }
    if (::fchmod(out.get(), mode) != 0)
        throw errno_error("cannot chmod " + dst.string());
}

}  // namespace

void copy_entry(const fs::path& src, const struct stat& st, const fs::path& dst,
                const CopyOptions& o, LinkMap* links) {
    if (S_ISDIR(st.st_mode)) {
        struct stat dst_st;
        bool exists = ::lstat(dst.c_str(), &dst_st) == 0;
        if (exists && !S_ISDIR(dst_st.st_mode)) {
            remove_non_dir(dst);
            exists = false;
        }
        if (!exists) {
            if (::mkdir(dst.c_str(), 0700) != 0)
                throw errno_error("cannot create " + dst.string());
        } else if (!o.update_dir) {
            return;  // an existing directory keeps its mode and owner, as Docker does
        }
        copy_xattrs(src, dst);
        set_owner(dst, st, o);
        if (::chmod(dst.c_str(), mode_of(st, o)) != 0)
            throw errno_error("cannot chmod " + dst.string());
        set_times(dst, st, false);
        return;
    }
    remove_non_dir(dst);
    if (links && st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (auto it = links->find(key); it != links->end()) {
            if (::link(it->second.c_str(), dst.c_str()) != 0)
                throw errno_error("cannot link " + dst.string());
            return;
        }
        (*links)[key] = dst;
    }
    // Link when asked and possible (same filesystem); otherwise copy.
    bool linked = false;
    if (S_ISREG(st.st_mode) && o.link_files) {
        linked = ::link(src.c_str(), dst.c_str()) == 0;
        if (!linked && errno != EXDEV)
            throw errno_error("cannot link " + dst.string());
    }
    if (linked) {
    } else if (S_ISREG(st.st_mode)) {
        copy_file_data(src, dst, mode_of(st, o));
        copy_xattrs(src, dst);
        set_owner(dst, st, o);
        // chown clears setuid/setgid bits: set the mode again afterwards.
        if (::chmod(dst.c_str(), mode_of(st, o)) != 0)
            throw errno_error("cannot chmod " + dst.string());
        set_times(dst, st, false);
    } else if (S_ISLNK(st.st_mode)) {
        std::vector<char> buf(static_cast<size_t>(st.st_size) + 1);
        ssize_t n = ::readlink(src.c_str(), buf.data(), buf.size());
        if (n < 0)
            throw errno_error("cannot read link " + src.string());
        std::string target(buf.data(), static_cast<size_t>(n));
        if (::symlink(target.c_str(), dst.c_str()) != 0)
            throw errno_error("cannot create symlink " + dst.string());
        copy_xattrs(src, dst);
        set_owner(dst, st, o);
        set_times(dst, st, true);
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        if (::mknod(dst.c_str(), st.st_mode, st.st_rdev) != 0)
            throw errno_error("cannot create " + dst.string());
        copy_xattrs(src, dst);
        set_owner(dst, st, o);
        set_times(dst, st, false);
    } else {
        throw Error("cannot copy " + src.string() + ": unsupported file type");
    }
}

void copy_tree(const fs::path& src, const fs::path& dst, const CopyOptions& o) {
    LinkMap links;
    struct Walk {
        const CopyOptions& o;
        LinkMap& links;
        void operator()(const fs::path& s, const fs::path& d) {
            struct stat st;
            if (::lstat(s.c_str(), &st) != 0)
                throw errno_error("cannot stat " + s.string());
            copy_entry(s, st, d, o, &links);
            if (!S_ISDIR(st.st_mode))
                return;
            std::vector<std::string> names;
            for (auto& e : fs::directory_iterator(s))
                names.push_back(e.path().filename());
            std::sort(names.begin(), names.end());
            for (auto& n : names)
                (*this)(s / n, d / n);
            // Children change a directory's mtime: put it back.
            set_times(d, st, false);
        }
    };
    Walk{o, links}(src, dst);
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
