#include "base/root_dir.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

#include "base/error.h"

namespace kiln {

namespace {

constexpr int kMaxLinks = 40;  // Linux's MAXSYMLINKS

void split_into(std::string_view path, std::deque<std::string>& out, bool front) {
    std::vector<std::string> parts;
    size_t i = 0;
    while (i <= path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos)
            j = path.size();
        std::string_view c = path.substr(i, j - i);
        if (!c.empty() && c != ".")
            parts.emplace_back(c);
        i = j + 1;
    }
    if (front)
        out.insert(out.begin(), parts.begin(), parts.end());
    else
        out.insert(out.end(), parts.begin(), parts.end());
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names)
        out += "/" + n;
    return out.empty() ? "/" : out;
}

std::string read_link(int fd, const std::string& where) {
    std::string buf(256, '\0');
    for (;;) {
        ssize_t n = ::readlinkat(fd, "", buf.data(), buf.size());
        if (n < 0)
            throw errno_error("cannot read link " + where);
        if (static_cast<size_t>(n) < buf.size()) {
            buf.resize(static_cast<size_t>(n));
            return buf;
        }
        buf.resize(buf.size() * 2);
    }
}

UniqueFd dup_fd(int fd) {
    UniqueFd d(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!d)
        throw errno_error("cannot duplicate a directory descriptor");
    return d;
}

}  // namespace

RootDir::RootDir(const std::filesystem::path& dir)
    : fd_(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)), host_(dir) {
    if (!fd_)
        throw errno_error("cannot open " + dir.string());
}

InRoot RootDir::walk(std::string_view path, Follow follow, const mode_t* create,
                     const std::function<void(int, const std::string&)>* made) const {
    std::deque<std::string> todo;
    split_into(path, todo, false);
    // "x/" and "x/." name a directory: x is followed and must be one (as the kernel).
    auto ends_as_dir = [](std::string_view p) {
        return p.ends_with('/') || p.ends_with("/.") || p == ".";
    };
    bool names_dir = ends_as_dir(path);
    if (names_dir)
        follow = Follow::all;
    // stack[i] is the directory names[0..i) leads to; stack[0] the root.
    std::vector<UniqueFd> stack;
    stack.push_back(dup_fd(fd_.get()));
    std::vector<std::string> names;
    int links = 0;
    InRoot out;

    auto expand = [&](int link_fd, const std::string& name) {
        std::vector<std::string> at = names;
        at.push_back(name);
        if (++links > kMaxLinks)
            throw Error("cannot resolve " + std::string(path) +
                        ": too many levels of symbolic links");
        std::string target = read_link(link_fd, join(at));
        if (target.empty())
            throw Error("cannot resolve " + std::string(path) + ": " + join(at) +
                        " is an empty symlink");
        if (target.front() == '/') {
            names.clear();
            stack.resize(1);
        }
        // A last link whose target ends in "/" makes its target the last component,
        // named as a directory (the kernel's LOOKUP_DIRECTORY).
        if (todo.empty() && ends_as_dir(target))
            names_dir = true;
        split_into(target, todo, true);
    };

    while (!todo.empty()) {
        std::string c = std::move(todo.front());
        todo.pop_front();
        if (c == "..") {
            if (!names.empty()) {
                names.pop_back();
                stack.pop_back();
            }
            continue;
        }
        if (todo.empty() && !create) {
            // The last component: looked at, not entered.
            struct stat st;
            if (::fstatat(stack.back().get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT)
                    throw errno_error("cannot resolve " + std::string(path));
                names.push_back(c);
                out.path = join(names);
                out.dir = std::move(stack.back());
                out.name = c;
                return out;
            }
            if (S_ISLNK(st.st_mode) && follow == Follow::all) {
                UniqueFd l(
                    ::openat(stack.back().get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
                if (!l)
                    throw errno_error("cannot resolve " + std::string(path));
                expand(l.get(), c);
                continue;
            }
            names.push_back(c);
            if (names_dir && !S_ISDIR(st.st_mode))
                throw Error(join(names) + " is not a directory");
            out.path = join(names);
            out.dir = std::move(stack.back());
            out.name = c;
            out.exists = true;
            out.st = st;
            return out;
        }
        UniqueFd f(::openat(stack.back().get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!f && errno == ENOENT && create) {
            if (::mkdirat(stack.back().get(), c.c_str(), *create) != 0 && errno != EEXIST)
                throw errno_error("cannot create " + join(names) + (names.empty() ? "" : "/") + c);
            UniqueFd d(::openat(stack.back().get(), c.c_str(),
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!d)
                throw errno_error("cannot open " + join(names) + (names.empty() ? "" : "/") + c);
            names.push_back(c);
            if (made && *made)
                (*made)(d.get(), join(names));
            stack.push_back(std::move(d));
            continue;
        }
        if (!f) {
            if (errno != ENOENT)
                throw errno_error("cannot resolve " + std::string(path));
            // A directory on the way is missing: the rest stays as written.
            names.push_back(c);
            for (auto& rest : todo) {
                if (rest == "..") {
                    if (!names.empty())
                        names.pop_back();
                } else {
                    names.push_back(rest);
                }
            }
            out.path = join(names);
            out.name = names.empty() ? "" : names.back();
            return out;
        }
        struct stat st;
        if (::fstat(f.get(), &st) != 0)
            throw errno_error("cannot resolve " + std::string(path));
        if (S_ISLNK(st.st_mode)) {
            expand(f.get(), c);
            continue;
        }
        names.push_back(c);
        if (!S_ISDIR(st.st_mode))
            throw Error(join(names) + " is not a directory");
        stack.push_back(std::move(f));
    }
    // The path named a directory reached on the way (or the root).
    out.path = join(names);
    out.exists = true;
    if (names.empty()) {
        out.dir = std::move(stack.back());
        if (::fstat(out.dir.get(), &out.st) != 0)
            throw errno_error("cannot resolve " + std::string(path));
        return out;
    }
    out.name = names.back();
    if (create) {
        // The caller wants the directory itself.
        out.dir = std::move(stack.back());
        if (::fstat(out.dir.get(), &out.st) != 0)
            throw errno_error("cannot resolve " + std::string(path));
        return out;
    }
    stack.pop_back();
    out.dir = std::move(stack.back());
    if (::fstatat(out.dir.get(), out.name.c_str(), &out.st, AT_SYMLINK_NOFOLLOW) != 0)
        throw errno_error("cannot resolve " + std::string(path));
    return out;
}

InRoot RootDir::resolve(std::string_view path, Follow follow) const {
    return walk(path, follow, nullptr, nullptr);
}

UniqueFd RootDir::mkdir_all(std::string_view path, mode_t mode,
                            const std::function<void(int, const std::string&)>& made) const {
    InRoot r = walk(path, Follow::all, &mode, &made);
    UniqueFd d(::openat(r.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d)
        throw errno_error("cannot open " + r.path);
    return d;
}

UniqueFd RootDir::open(std::string_view path, int flags) const {
    flags |= O_CLOEXEC;
    if (have_openat2()) {
        // RESOLVE_IN_ROOT keeps every link, the last one included, inside the root.
        std::string p(path);
        int fd = openat2_in_root(fd_.get(), p.c_str(), flags & ~O_NOFOLLOW);
        if (fd >= 0)
            return UniqueFd(fd);
        if (errno == ENOENT)
            return {};
        // EAGAIN: a rename raced the lookup; ENOSYS, EPERM: filtered. The walk answers.
        if (errno != EAGAIN && errno != ENOSYS && errno != EPERM && errno != EXDEV)
            throw errno_error("cannot open " + p);
    }
    flags |= O_NOFOLLOW;  // the walk followed every link already
    InRoot r = resolve(path);
    if (!r.exists)
        return {};
    if (r.name.empty()) {
        UniqueFd d(::openat(r.dir.get(), ".", flags & ~O_NOFOLLOW));
        if (!d)
            throw errno_error("cannot open " + r.path);
        return d;
    }
    UniqueFd f(::openat(r.dir.get(), r.name.c_str(), flags));
    if (!f)
        throw errno_error("cannot open " + r.path);
    return f;
}

std::optional<std::string> RootDir::read_file(std::string_view path, std::size_t limit) const {
    UniqueFd f = open(path, O_RDONLY | O_NONBLOCK);
    if (!f)
        return std::nullopt;
    struct stat st;
    if (::fstat(f.get(), &st) != 0)
        throw errno_error("cannot read " + std::string(path));
    if (!S_ISREG(st.st_mode))
        throw Error("cannot read " + std::string(path) + ": not a regular file");
    if (static_cast<std::size_t>(st.st_size) > limit)
        throw Error("cannot read " + std::string(path) + ": larger than " + std::to_string(limit) +
                    " bytes");
    std::string out;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(f.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw errno_error("cannot read " + std::string(path));
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > limit)
            throw Error("cannot read " + std::string(path) + ": larger than " +
                        std::to_string(limit) + " bytes");
    }
    return out;
}

UniqueFd open_beneath(int dir_fd, std::string_view rel, int flags) {
    std::deque<std::string> parts;
    split_into(rel, parts, false);
    if (parts.empty())
        throw Error("cannot open an empty path below a directory");
    UniqueFd cur = dup_fd(dir_fd);
    while (parts.size() > 1) {
        const std::string& c = parts.front();
        if (c == "..")
            throw Error("cannot open " + std::string(rel) + ": it climbs out");
        UniqueFd next(
            ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next)
            throw errno_error("cannot open " + std::string(rel));
        cur = std::move(next);
        parts.pop_front();
    }
    if (parts.front() == "..")
        throw Error("cannot open " + std::string(rel) + ": it climbs out");
    UniqueFd f(::openat(cur.get(), parts.front().c_str(), flags | O_NOFOLLOW | O_CLOEXEC));
    if (!f)
        throw errno_error("cannot open " + std::string(rel));
    return f;
}

int openat2_in_root(int root_fd, const char* path, int flags) {
    struct open_how how {};
    how.flags = static_cast<unsigned long long>(flags);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return static_cast<int>(::syscall(SYS_openat2, root_fd, path, &how, sizeof how));
}

bool have_openat2() {
    static const bool have = [] {
        int fd = openat2_in_root(AT_FDCWD, "/", O_PATH | O_CLOEXEC);
        if (fd >= 0) {
            ::close(fd);
            return true;
        }
        return errno != ENOSYS;
    }();
    return have;
}

}  // namespace kiln
