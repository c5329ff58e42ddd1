// The property behind the in-root resolver (base/root_dir.h), checked on a tree of
// links and paths decoded from arbitrary bytes. Shared by root_dir_fuzzer.cpp and a
// unit test that runs it over seeded random inputs, so CI exercises it too.
//
// For every decoded path: resolve() answers with a clean absolute in-root path or a
// kiln::Error; where the kernel has openat2(RESOLVE_IN_ROOT), it lands on the same
// inode (or both say "missing"); with `use_chroot` (root only) a chroot'ed realpath(3)
// agrees; and mkdir_all() never creates or changes anything outside the root (a
// sibling "victim" directory, the target of the absolute links, stays as it was).
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/root_dir.h"

namespace kiln::fuzz {

namespace detail {

// Reads small numbers off the input; zeros once it runs out.
class Bytes {
  public:
    Bytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    unsigned next(unsigned mod) { return i_ < n_ ? d_[i_++] % mod : 0; }
    bool done() const { return i_ >= n_; }

  private:
    const uint8_t* d_;
    size_t n_;
    size_t i_ = 0;
};

// Up to 5 components from a vocabulary with every trick: "..", ".", "", absolute starts,
// the victim's host path.
inline std::string path_from(Bytes& b, const std::string& victim, bool allow_absolute) {
    static const char* words[] = {"a", "b", "c", "..", ".", "", "lib", "usr"};
    std::string p;
    unsigned start = b.next(4);
    if (allow_absolute && start == 0)
        p = "/";
    else if (allow_absolute && start == 1)
        p = victim + "/";
    unsigned n = 1 + b.next(5);
    for (unsigned i = 0; i < n; ++i) {
        if (i)
            p += "/";
        p += words[b.next(8)];
    }
    return p;
}

inline std::string listing(const std::filesystem::path& dir) {
    std::string out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st;
        ::lstat(it->path().c_str(), &st);
        out += it->path().string() + " " + std::to_string(st.st_mode) + " " +
               std::to_string(st.st_size) + "\n";
    }
    return out;
}

inline bool clean_absolute(const std::string& p) {
    if (p.empty() || p[0] != '/')
        return false;
    if (p == "/")
        return true;
    if (p.back() == '/' || p.find("//") != std::string::npos)
        return false;
    return p.find("/./") == std::string::npos && p.find("/../") == std::string::npos &&
           !p.ends_with("/.") && !p.ends_with("/..");
}

// realpath(3) of `path` inside a chroot at `root`, in a child process ("" when the
// path does not exist, "!" when the child failed otherwise).
inline std::string chrooted_realpath(const std::filesystem::path& root, const std::string& path) {
    int fds[2];
    if (::pipe(fds) != 0)
        return "!";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        char buf[PATH_MAX];
        const char* answer = "";
        if (::chroot(root.c_str()) == 0 && ::chdir("/") == 0) {
            if (::realpath(path.c_str(), buf))
                answer = buf;
        } else {
            answer = "!";
        }
        ssize_t ignored = ::write(fds[1], answer, std::strlen(answer));
        (void)ignored;
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return out;
}

// openat2(RESOLVE_IN_ROOT) of `path`; -1 with errno. EAGAIN (a rename anywhere on the
// machine while ".." was resolved) is retried: it says nothing about the path.
inline int openat2_retrying(int root_fd, const std::string& path) {
    for (int attempt = 0;; ++attempt) {
        int fd = openat2_in_root(root_fd, path.c_str(), O_PATH | O_CLOEXEC);
        if (fd >= 0 || errno != EAGAIN || attempt == 100)
            return fd;
    }
}

}  // namespace detail

// Builds the tree described by `data` under scratch/root (scratch must be empty) and
// checks the property; returns "" or what went wrong.
inline std::string check_root_dir_input(const uint8_t* data, size_t size,
                                        const std::filesystem::path& scratch, bool use_chroot) {
    namespace fs = std::filesystem;
    const fs::path root = scratch / "root";
    const fs::path victim = scratch / "victim";
    fs::create_directories(root);
    fs::create_directories(victim / "sub");
    {
        int fd = ::open((victim / "secret").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ssize_t ignored = ::write(fd, "host", 4);
        (void)ignored;
        ::close(fd);
    }
    const std::string before = detail::listing(victim);
    detail::Bytes b(data, size);

    // The tree: directories, files and links (the decoded names never contain ".."
    // here: only links carry the tricks).
    unsigned ops = b.next(12);
    static const char* names[] = {"a", "b", "c", "lib", "usr", "a/b", "usr/lib", "a/c"};
    UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    for (unsigned i = 0; i < ops; ++i) {
        // Made fd-relative below real directories only: a link made earlier must not
        // carry the test's own calls out of the root.
        std::string rel = names[b.next(8)];
        auto slash = rel.rfind('/');
        std::string leaf = slash == std::string::npos ? rel : rel.substr(slash + 1);
        UniqueFd parent;
        try {
            parent = slash == std::string::npos
                         ? UniqueFd(::fcntl(root_fd.get(), F_DUPFD_CLOEXEC, 0))
                         : open_beneath(root_fd.get(), rel.substr(0, slash), O_PATH | O_DIRECTORY);
        } catch (const Error&) {
            continue;
        }
        switch (b.next(3)) {
            case 0:
                ::mkdirat(parent.get(), leaf.c_str(), 0755);
                break;
            case 1: {
                int fd = ::openat(parent.get(), leaf.c_str(),
                                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (fd >= 0)
                    ::close(fd);
                break;
            }
            default:
                ::symlinkat(detail::path_from(b, victim.string(), true).c_str(), parent.get(),
                            leaf.c_str());
        }
    }

    RootDir r(root);
    while (!b.done()) {
        std::string path = detail::path_from(b, victim.string(), true);
        if (path.empty())
            path = ".";  // the resolver reads "" as the root; the kernel refuses it
        Follow follow = b.next(2) ? Follow::all : Follow::not_last;
        InRoot at;
        bool threw = false;
        try {
            at = r.resolve(path, follow);
        } catch (const Error&) {
            threw = true;
        }
        if (!threw && !detail::clean_absolute(at.path))
            return "resolve(" + path + ") gave an unclean path: " + at.path;
        if (!threw && at.exists && follow == Follow::all && have_openat2()) {
            int fd = detail::openat2_retrying(r.fd(), path);
            if (fd < 0)
                return "resolve(" + path + ") found " + at.path + ", openat2 did not (" +
                       std::strerror(errno) + ")";
            struct stat a, w;
            ::fstat(fd, &a);
            ::close(fd);
            if (at.name.empty())
                ::fstat(at.dir.get(), &w);
            else
                ::fstatat(at.dir.get(), at.name.c_str(), &w, AT_SYMLINK_NOFOLLOW);
            if (a.st_ino != w.st_ino)
                return "resolve(" + path + ") and openat2 disagree";
        }
        if (!threw && !at.exists && at.dir && follow == Follow::all && have_openat2()) {
            int fd = detail::openat2_retrying(r.fd(), path);
            if (fd >= 0) {
                ::close(fd);
                return "resolve(" + path + ") said missing, openat2 found it";
            }
        }
        if (!threw && at.exists && follow == Follow::all && use_chroot) {
            std::string real = detail::chrooted_realpath(root, path);
            if (real != "!" && real != "" && real != at.path)
                return "resolve(" + path + ") = " + at.path + ", chroot realpath = " + real;
        }
        if (b.next(4) == 0) {
            try {
                r.mkdir_all(path, 0755);
            } catch (const Error&) {
            }
        }
        if (detail::listing(victim) != before)
            return "the host directory changed after " + path;
    }
    return "";
}

}  // namespace kiln::fuzz
