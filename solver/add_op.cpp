#include "solver/add_op.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "content/error.h"
#include "content/unique_fd.h"

extern char** environ;

#include "solver/copy_op.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

bool is_root() {
    return ::geteuid() == 0;
}

// "https://user:secret@host/x" → "https://***@host/x", for messages.
std::string redact(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos)
        return url;
    auto start = scheme + 3;
    auto end = url.find_first_of("/?#", start);
    auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
    if (at == std::string::npos || at < start)
        return url;
    return url.substr(0, start) + "***" + url.substr(at);
}

// ---------------------------------------------------------------------------
// Archive extraction

struct ArchiveReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveReadFree>;

// A reader for a tar, maybe compressed with one of the filters Docker's ADD knows.
ArchivePtr open_tar(const fs::path& file) {
    ArchivePtr a(archive_read_new());
    if (!a)
        throw Error("out of memory reading " + file.string());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    return a;
}

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

struct DirMeta {
    mode_t mode;
    timespec times[2];
};

class Extractor {
  public:
    Extractor(const fs::path& archive, const fs::path& dest,
              const std::optional<std::pair<uid_t, gid_t>>& owner)
        : source_(archive.string()), owner_(owner) {
        std::error_code ec;
        fs::create_directories(dest, ec);
        root_ = UniqueFd(::open(dest.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_)
            throw errno_error("ADD " + source_ + ": cannot open the destination " + dest.string());
    }

    void run(struct archive* a) {
        for (;;) {
            archive_entry* e = nullptr;
            int rc = archive_read_next_header(a, &e);
            if (rc == ARCHIVE_EOF)
                break;
            if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
                fail_archive(a);
            const char* name = archive_entry_pathname(e);
            if (name == nullptr)
                name = archive_entry_pathname_utf8(e);
            if (name == nullptr)
                throw Error("ADD " + source_ + ": an entry has no readable path");
            current_ = name;
            apply_entry(a, e);
        }
        finish_dirs();
    }

  private:
    Error err(const std::string& what) const {
        return Error("ADD " + source_ + ": entry \"" + current_ + "\" " + what);
    }
    Error errno_err(const std::string& what) const {
        return Error("ADD " + source_ + ": entry \"" + current_ + "\": " + what + ": " +
                     std::strerror(errno));
    }
    [[noreturn]] void fail_archive(struct archive* a) const {
        const char* msg = archive_error_string(a);
        std::string where = current_.empty() ? "" : " after entry \"" + current_ + "\"";
        throw Error("ADD " + source_ + ": cannot read the archive" + where + ": " +
                    (msg ? msg : "unknown error"));
    }

    Components clean(const std::string& raw, const std::string& what) const {
        if (!raw.empty() && raw[0] == '/')
            throw err("has an absolute " + what + " \"" + raw + "\"; refusing it");
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
            if (c == "..")
                throw err("has a " + what + " \"" + raw +
                          "\" with a \"..\" component; refusing it");
            out.push_back(std::move(c));
        }
        return out;
    }

    // Walks the first n components from the root without following any symlink.
    UniqueFd open_dir(const Components& dir, std::size_t n, bool create) {
        UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
        if (!cur)
            throw errno_err("cannot open the destination");
        for (std::size_t i = 0; i < n; ++i) {
            const char* c = dir[i].c_str();
            UniqueFd next(::openat(cur.get(), c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!next && errno == ENOENT && create) {
                if (::mkdirat(cur.get(), c, 0755) != 0 && errno != EEXIST)
                    throw errno_err("cannot create directory " + join(dir, i + 1));
                if (is_root() && owner_ &&
                    ::fchownat(cur.get(), c, owner_->first, owner_->second, AT_SYMLINK_NOFOLLOW) !=
                        0) {
                    throw errno_err("cannot set the owner of " + join(dir, i + 1));
                }
                next =
                    UniqueFd(::openat(cur.get(), c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            }
            if (!next) {
                if (errno == ENOENT && !create)
                    return {};
                if (errno == ELOOP || errno == ENOTDIR) {
                    struct stat st;
                    if (::fstatat(cur.get(), c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(st.st_mode)) {
                        throw err("lies below the symlink \"" + join(dir, i + 1) +
                                  "\"; refusing to follow it");
                    }
                    throw err("lies below \"" + join(dir, i + 1) + "\", which is not a directory");
                }
                throw errno_err("cannot open directory " + join(dir, i + 1));
            }
            cur = std::move(next);
        }
        return cur;
    }

    void remove_all_at(int parent, const std::string& name, const std::string& rel) {
        struct stat st;
        if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                return;
            throw errno_err("cannot stat " + rel);
        }
        if (S_ISDIR(st.st_mode)) {
            int fd =
                ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                throw errno_err("cannot open directory " + rel);
            UniqueFd dfd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
            DIR* d = ::fdopendir(fd);
            if (d == nullptr) {
                ::close(fd);
                throw errno_err("cannot read directory " + rel);
            }
            std::vector<std::string> children;
            while (dirent* de = ::readdir(d)) {
                std::string n = de->d_name;
                if (n != "." && n != "..")
                    children.push_back(std::move(n));
            }
            ::closedir(d);
            for (const auto& c : children)
                remove_all_at(dfd.get(), c, rel + "/" + c);
            dirs_.erase(rel);
            if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0)
                throw errno_err("cannot remove " + rel);
        } else if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) {
            throw errno_err("cannot remove " + rel);
        }
    }

    void apply_entry(struct archive* a, archive_entry* e) {
        Components path = clean(current_, "path");
        if (path.empty())
            return;  // the archive's root: dest_dir keeps its own metadata
        const std::string& base = path.back();
        std::string rel = join(path, path.size());
        UniqueFd parent = open_dir(path, path.size() - 1, true);
        int pfd = parent.get();

        if (const char* link = archive_entry_hardlink(e)) {
            hardlink(pfd, base, rel, link);
            return;
        }
        mode_t type = archive_entry_filetype(e);
        if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
            type != AE_IFBLK && type != AE_IFIFO) {
            return;
        }
        struct stat old;
        bool exists = ::fstatat(pfd, base.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
        if (!exists && errno != ENOENT)
            throw errno_err("cannot stat " + rel);
        bool merge_dir = exists && type == AE_IFDIR && S_ISDIR(old.st_mode);
        if (exists && !merge_dir)
            remove_all_at(pfd, base, rel);

        switch (type) {
            case AE_IFREG:
                write_file(a, e, pfd, base, rel);
                break;
            case AE_IFDIR:
                make_dir(e, pfd, base, rel, merge_dir);
                break;
            case AE_IFLNK:
                make_symlink(e, pfd, base, rel);
                break;
            default:
                make_node(e, pfd, base, rel, type);
                break;
        }
    }

    void hardlink(int pfd, const std::string& base, const std::string& rel,
                  const std::string& raw_target) {
        Components target = clean(raw_target, "hard link target");
        if (target.empty())
            throw err("is a hard link to the destination directory itself");
        if (join(target, target.size()) == rel)
            return;
        UniqueFd tparent = open_dir(target, target.size() - 1, false);
        struct stat st;
        if (!tparent ||
            ::fstatat(tparent.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            throw err("is a hard link to \"" + raw_target +
                      "\", which does not exist in the destination");
        }
        if (S_ISDIR(st.st_mode))
            throw err("is a hard link to the directory \"" + raw_target + "\"");
        remove_all_at(pfd, base, rel);
        // Flags 0: a symlink target is linked itself, never followed.
        if (::linkat(tparent.get(), target.back().c_str(), pfd, base.c_str(), 0) != 0)
            throw errno_err("cannot link to \"" + raw_target + "\"");
    }

    std::pair<uid_t, gid_t> owner_of(archive_entry* e) const {
        if (owner_)
            return *owner_;
        return {static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))};
    }

    void set_owner_fd(int fd, archive_entry* e, const std::string& rel) {
        if (!is_root())
            return;
        auto [uid, gid] = owner_of(e);
        if (::fchown(fd, uid, gid) != 0)
            throw errno_err("cannot set the owner of " + rel);
    }
    void set_owner_at(int pfd, const std::string& base, archive_entry* e, const std::string& rel) {
        if (!is_root())
            return;
        auto [uid, gid] = owner_of(e);
        if (::fchownat(pfd, base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            throw errno_err("cannot set the owner of " + rel);
    }

    // Best effort, as BuildKit's BestEffortXattrs: unsupported namespaces are skipped.
    void set_xattrs(int fd, const std::string& path_for_l, archive_entry* e) {
        archive_entry_xattr_reset(e);
        const char* name;
        const void* value;
        size_t size;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            if (fd >= 0)
                (void)::fsetxattr(fd, name, value, size, 0);
            else
                (void)::lsetxattr(path_for_l.c_str(), name, value, size, 0);
        }
    }

    static std::array<timespec, 2> times(archive_entry* e) {
        timespec m{archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        timespec at = m;
        if (archive_entry_atime_is_set(e))
            at = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
        return {at, m};
    }

    void write_file(struct archive* a, archive_entry* e, int pfd, const std::string& base,
                    const std::string& rel) {
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
                fail_archive(a);
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
        if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) != 0)
            throw errno_err("cannot size " + rel);
        set_owner_fd(fd.get(), e, rel);
        set_xattrs(fd.get(), "", e);
        if (::fchmod(fd.get(), archive_entry_mode(e) & 07777) != 0)
            throw errno_err("cannot set the mode of " + rel);
        auto ts = times(e);
        if (::futimens(fd.get(), ts.data()) != 0)
            throw errno_err("cannot set times of " + rel);
    }

    void make_dir(archive_entry* e, int pfd, const std::string& base, const std::string& rel,
                  bool existed) {
        if (!existed && ::mkdirat(pfd, base.c_str(), 0700) != 0)
            throw errno_err("cannot create directory " + rel);
        UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd)
            throw errno_err("cannot open directory " + rel);
        set_owner_fd(fd.get(), e, rel);
        set_xattrs(fd.get(), "", e);
        // Mode and times are set at the end: children would bump the mtime, and
        // a read-only mode could lock them out.
        auto ts = times(e);
        dirs_[rel] = DirMeta{static_cast<mode_t>(archive_entry_mode(e) & 07777), {ts[0], ts[1]}};
    }

    void make_symlink(archive_entry* e, int pfd, const std::string& base, const std::string& rel) {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr)
            target = archive_entry_symlink_utf8(e);
        if (target == nullptr)
            throw err("is a symlink without a target");
        if (::symlinkat(target, pfd, base.c_str()) != 0)
            throw errno_err("cannot create symlink " + rel);
        set_owner_at(pfd, base, e, rel);
        if (archive_entry_xattr_count(e) > 0)
            set_xattrs(-1, "/proc/self/fd/" + std::to_string(pfd) + "/" + base, e);
        auto ts = times(e);
        if (::utimensat(pfd, base.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0)
            throw errno_err("cannot set times of " + rel);
    }

    void make_node(archive_entry* e, int pfd, const std::string& base, const std::string& rel,
                   mode_t type) {
        mode_t mode = type | (archive_entry_mode(e) & 07777);
        dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
        if (::mknodat(pfd, base.c_str(), mode, dev) != 0) {
            if (errno == EPERM && type != AE_IFIFO)
                return;  // unprivileged: go without devices, as rootless Docker
            throw errno_err("cannot create node " + rel);
        }
        set_owner_at(pfd, base, e, rel);
        if (::fchmodat(pfd, base.c_str(), mode & 07777, 0) != 0)
            throw errno_err("cannot set the mode of " + rel);
        auto ts = times(e);
        if (::utimensat(pfd, base.c_str(), ts.data(), AT_SYMLINK_NOFOLLOW) != 0)
            throw errno_err("cannot set times of " + rel);
    }

    void finish_dirs() {
        std::vector<std::pair<std::string, DirMeta>> order(dirs_.begin(), dirs_.end());
        std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
            auto depth = [](const std::string& s) { return std::count(s.begin(), s.end(), '/'); };
            return depth(x.first) > depth(y.first);
        });
        for (auto& [rel, meta] : order) {
            current_ = rel;
            Components path = clean(rel, "path");
            UniqueFd parent = open_dir(path, path.size() - 1, false);
            if (!parent)
                continue;
            UniqueFd fd(::openat(parent.get(), path.back().c_str(),
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) {
                if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
                    continue;  // replaced by a later entry
                throw errno_err("cannot open directory " + rel);
            }
            if (::fchmod(fd.get(), meta.mode) != 0)
                throw errno_err("cannot set the mode of " + rel);
            if (::futimens(fd.get(), meta.times) != 0)
                throw errno_err("cannot set times of " + rel);
        }
    }

    std::string source_;
    std::optional<std::pair<uid_t, gid_t>> owner_;
    UniqueFd root_;
    std::string current_;
    std::map<std::string, DirMeta> dirs_;
};

// ---------------------------------------------------------------------------
// Subprocesses (git)

struct RunResult {
    int status = -1;
    std::string err;
};

RunResult run_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) {
        std::string_view v(*e);
        if (!v.starts_with("GIT_TERMINAL_PROMPT=") && !v.starts_with("GIT_ASKPASS=") &&
            !v.starts_with("GIT_DIR=") && !v.starts_with("GIT_WORK_TREE="))
            env_store.emplace_back(*e);
    }
    env_store.emplace_back("GIT_TERMINAL_PROMPT=0");
    env_store.emplace_back("GIT_ASKPASS=/bin/true");
    env_store.emplace_back("LC_ALL=C");
    std::vector<char*> envp;
    for (auto& s : env_store)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        throw errno_error("cannot create a pipe");
    UniqueFd rd(pipefd[0]), wr(pipefd[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
    pid_t pid = -1;
    int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        throw errno_error("cannot run " + args[0]);
    }
    wr.reset();
    RunResult r;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (r.err.size() < 64 * 1024)
            r.err.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r.status = status;
    return r;
}

bool ok(const RunResult& r) {
    return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

// The line of git's stderr worth showing: the first "fatal:" or "error:", else the last.
std::string last_line(const std::string& s) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t nl = s.find('\n', pos);
        if (nl == std::string::npos)
            nl = s.size();
        std::string line = s.substr(pos, nl - pos);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        if (!line.empty())
            lines.push_back(std::move(line));
        pos = nl + 1;
    }
    for (const char* prefix : {"fatal:", "error:"}) {
        for (const auto& l : lines) {
            if (l.starts_with(prefix))
                return l;
        }
    }
    return lines.empty() ? "" : lines.back();
}

// ---------------------------------------------------------------------------
// HTTP

struct CurlDownload {
    int fd = -1;
    content::Sha256 sha;
    std::exception_ptr error;
};

size_t curl_write(char* data, size_t size, size_t n, void* ctx) {
    auto* d = static_cast<CurlDownload*>(ctx);
    size_t total = size * n;
    try {
        write_all(d->fd, data, total, "the download");
        d->sha.update(data, total);
    } catch (...) {
        d->error = std::current_exception();
        return 0;
    }
    return total;
}

std::once_flag curl_once;

struct CurlFree {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

}  // namespace

bool is_url(const std::string& source) {
    return source.starts_with("http://") || source.starts_with("https://");
}

bool is_git_url(const std::string& source) {
    if (source.starts_with("git://") || source.starts_with("ssh://"))
        return true;
    if (is_url(source)) {
        std::string s = source.substr(0, source.find('#'));
        s = s.substr(0, s.find('?'));
        return s.ends_with(".git");
    }
    // scp-like "user@host:path" (git@github.com:org/repo.git).
    static const std::regex scp(R"(^[A-Za-z0-9_.+-]+@[A-Za-z0-9.-]+:.+)");
    return std::regex_search(source, scp);
}

bool is_archive(const fs::path& file) {
    struct stat st;
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return false;
    ArchivePtr a = open_tar(file);
    if (archive_read_open_filename(a.get(), file.c_str(), 64 * 1024) != ARCHIVE_OK)
        return false;
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    // An empty tar (just end-of-archive blocks) is still a tar.
    if (rc == ARCHIVE_EOF)
        return archive_format(a.get()) != 0 || archive_filter_count(a.get()) > 1;
    return rc == ARCHIVE_OK || rc == ARCHIVE_WARN;
}

void extract_archive(const fs::path& archive, const fs::path& dest_dir,
                     const std::optional<std::pair<uid_t, gid_t>>& owner) {
    ArchivePtr a = open_tar(archive);
    Extractor x(archive, dest_dir, owner);
    if (archive_read_open_filename(a.get(), archive.c_str(), 128 * 1024) != ARCHIVE_OK) {
        const char* msg = archive_error_string(a.get());
        throw Error("ADD " + archive.string() +
                    ": cannot open the archive: " + (msg ? msg : "unknown error"));
    }
    x.run(a.get());
}

std::string url_filename(const std::string& url) {
    auto scheme = url.find("://");
    std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    auto slash = rest.find('/');
    if (slash == std::string::npos)
        return "";
    std::string path = rest.substr(slash);
    while (!path.empty() && path.back() == '/')
        path.pop_back();
    std::string name = path.substr(path.find_last_of('/') + 1);
    if (name == "." || name == "..")
        return "";
    return name;
}

content::Digest fetch_url(const std::string& url, const fs::path& file,
                          const std::string& checksum) {
    const std::string shown = redact(url);
    std::optional<content::Digest> want;
    if (!checksum.empty()) {
        try {
            want = content::Digest::parse(checksum);
        } catch (const Error&) {
            throw Error("ADD " + shown + ": invalid --checksum \"" + checksum +
                        "\" (want sha256:<64 hex digits>)");
        }
    }
    std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, CurlFree> h(curl_easy_init());
    if (!h)
        throw Error("ADD " + shown + ": cannot initialise libcurl");

    fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    std::string tmpl = (dir / ("." + file.filename().string() + ".kiln-XXXXXX")).string();
    int raw = ::mkstemp(tmpl.data());
    if (raw < 0)
        throw errno_error("ADD " + shown + ": cannot create a temporary file in " + dir.string());
    UniqueFd fd(raw);
    struct Unlink {
        std::string path;
        bool armed = true;
        ~Unlink() {
            if (armed)
                ::unlink(path.c_str());
        }
    } cleanup{tmpl};

    CurlDownload d;
    d.fd = fd.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    CURLcode rc = curl_easy_perform(c);
    if (d.error)
        std::rethrow_exception(d.error);
    if (rc != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc == CURLE_HTTP_RETURNED_ERROR && code > 0)
            throw Error("ADD " + shown + ": cannot fetch: HTTP status " + std::to_string(code));
        std::string msg = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        throw Error("ADD " + shown + ": cannot fetch: " + msg);
    }
    content::Digest got = d.sha.finish();
    if (want && *want != got) {
        throw Error("ADD " + shown + ": checksum mismatch: expected " + want->str() + ", got " +
                    got.str());
    }
    if (::fchmod(fd.get(), 0600) != 0)
        throw errno_error("ADD " + shown + ": cannot set the mode of " + file.string());
    curl_off_t mtime = -1;
    if (curl_easy_getinfo(c, CURLINFO_FILETIME_T, &mtime) == CURLE_OK && mtime >= 0) {
        timespec ts[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
        (void)::futimens(fd.get(), ts);
    }
    if (::fsync(fd.get()) != 0)
        throw errno_error("ADD " + shown + ": cannot write " + file.string());
    if (::rename(tmpl.c_str(), file.c_str()) != 0)
        throw errno_error("ADD " + shown + ": cannot write " + file.string());
    cleanup.armed = false;
    return got;
}

void fetch_git(const std::string& url, const fs::path& dir, bool keep_git_dir) {
    std::string remote = url, ref, subdir;
    if (auto hash = url.rfind('#'); hash != std::string::npos) {
        remote = url.substr(0, hash);
        std::string frag = url.substr(hash + 1);
        auto colon = frag.find(':');
        ref = frag.substr(0, colon);
        if (colon != std::string::npos)
            subdir = frag.substr(colon + 1);
    }
    const std::string shown = redact(url);
    auto fail = [&](const std::string& what, const RunResult* r) -> Error {
        std::string detail = r ? last_line(r->err) : "";
        // git echoes the remote in its messages: keep credentials out.
        if (!detail.empty() && remote != redact(remote)) {
            for (auto p = detail.find(remote); p != std::string::npos; p = detail.find(remote))
                detail.replace(p, remote.size(), redact(remote));
        }
        return Error("ADD " + shown + ": " + what + (detail.empty() ? "" : ": " + detail));
    };
    // A local path is resolved before git runs in its own directory.
    if (remote.find("://") == std::string::npos && !is_git_url(remote) && !remote.empty() &&
        fs::exists(remote)) {
        remote = fs::absolute(remote).string();
    }
    if (!remote.empty() && remote[0] == '-')
        throw fail("invalid git URL", nullptr);
    if (!ref.empty() && ref[0] == '-')
        throw fail("invalid git ref \"" + ref + "\"", nullptr);

    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir)) && !(fs::is_directory(dir) && fs::is_empty(dir)))
        throw fail("the destination " + dir.string() + " exists and is not empty", nullptr);
    fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
    fs::create_directories(parent, ec);
    std::string tmpl = (parent / ".kiln-git-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw errno_error("ADD " + shown + ": cannot create a directory in " + parent.string());
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{tmpl};
    const std::string work = tmpl + "/checkout";

    auto git = [&](std::vector<std::string> args) {
        std::vector<std::string> full = {
            "git", "-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main", "-C", work};
        full.insert(full.end(), args.begin(), args.end());
        return run_process(full);
    };
    fs::create_directory(work, ec);
    if (RunResult r = git({"init", "-q"}); !ok(r))
        throw fail("git init failed", &r);
    if (RunResult r = git({"remote", "add", "origin", remote}); !ok(r))
        throw fail("git remote add failed", &r);
    std::string want = ref.empty() ? "HEAD" : ref;
    RunResult shallow = git({"fetch", "-q", "--depth=1", "--no-tags", "--", "origin", want});
    std::string checkout = "FETCH_HEAD";
    if (!ok(shallow)) {
        // Servers that refuse shallow or by-commit fetches: fetch everything, then resolve.
        RunResult full =
            git({"fetch", "-q", "--tags", "--", "origin", "+refs/heads/*:refs/remotes/origin/*"});
        if (!ok(full))
            throw fail("git fetch failed", &shallow);
        checkout.clear();
        for (const std::string& cand : {want, "origin/" + want}) {
            if (ok(git({"rev-parse", "-q", "--verify", cand + "^{commit}"}))) {
                checkout = cand;
                break;
            }
        }
        if (checkout.empty())
            throw fail("git ref \"" + want + "\" not found", &shallow);
    }
    if (RunResult r = git({"checkout", "-q", "--detach", checkout}); !ok(r))
        throw fail("git checkout of \"" + want + "\" failed", &r);
    if (fs::exists(work + "/.gitmodules")) {
        if (RunResult r = git({"submodule", "update", "-q", "--init", "--recursive", "--depth=1"});
            !ok(r)) {
            throw fail("git submodule update failed", &r);
        }
    }

    fs::path from = work;
    if (!subdir.empty()) {
        // The subdir must be a real directory of the checkout: no "..", no symlinks on the way.
        fs::path cur = work;
        for (const auto& part : fs::path(subdir)) {
            std::string s = part.string();
            if (s.empty() || s == "." || s == "/")
                continue;
            if (s == "..")
                throw fail("invalid subdirectory \"" + subdir + "\"", nullptr);
            cur /= s;
            auto st = fs::symlink_status(cur, ec);
            if (ec || !fs::is_directory(st))
                throw fail("subdirectory \"" + subdir + "\" not found in the repository", nullptr);
        }
        from = cur;
        if (from == fs::path(work))
            subdir.clear();
    }
    if (subdir.empty() && !keep_git_dir)
        fs::remove_all(work + "/.git", ec);
    if (fs::is_directory(dir))
        fs::remove(dir, ec);
    if (::rename(from.c_str(), dir.c_str()) != 0)
        throw errno_error("ADD " + shown + ": cannot move the checkout to " + dir.string());
}

}  // namespace kiln::solver

namespace kiln::solver {

AddInputs prepare_add(const frontend::CopySpec& spec, const std::filesystem::path& work_dir) {
    AddInputs in;
    content::Sha256 h;
    int n = 0;
    for (const auto& s : spec.sources) {
        if (!is_url(s) && !is_git_url(s)) {
            in.context_sources.push_back(s);
            continue;
        }
        AddInputs::Fetched f;
        f.source = s;
        f.dir = work_dir / ("fetch-" + std::to_string(n++));
        std::filesystem::create_directories(f.dir);
        if (is_git_url(s)) {
            fetch_git(s, f.dir / "repo", spec.keep_git_dir);
            f.dir /= "repo";
            // The clone's content is what the step reads: hash it as COPY would.
            StatCache none(work_dir / "no-stat-cache.json");
            h.update(s + "\n" + BuildContext(f.dir, {}).sources_digest({"."}, none).str() + "\n");
        } else {
            f.file = url_filename(s);
            if (f.file.empty())
                f.file = "download";
            h.update(s + "\n" + fetch_url(s, f.dir / f.file, spec.checksum).str() + "\n");
        }
        in.fetched.push_back(f);
    }
    in.digest = h.finish();
    return in;
}

void run_add(const frontend::CopySpec& spec, const AddInputs& inputs, const BuildContext& context,
             const std::filesystem::path& rootfs, const std::filesystem::path& layer_dir,
             const std::filesystem::path& work_dir) {
    namespace fs = std::filesystem;
    auto part = [&](std::vector<std::string> sources, bool dest_is_dir, bool keep_owners) {
        frontend::CopySpec c = spec;
        c.sources = std::move(sources);
        c.heredocs.clear();
        c.dest_is_dir = dest_is_dir;
        c.keep_owners = keep_owners;
        return c;
    };
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (!spec.chown.empty()) {
        auto o = parse_chown(spec.chown, rootfs);
        owner = std::make_pair(o.uid, o.gid);
    }
    int n = 0;
    // Local archives are unpacked unless --unpack=false; other sources copy.
    std::vector<std::string> plain;
    for (const auto& s : inputs.context_sources) {
        bool unpacked = false;
        if (spec.unpack) {
            for (const auto& src : context.resolve(s)) {
                struct stat st;
                if (::stat(src.host_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                    is_archive(src.host_path)) {
                    fs::path x = work_dir / ("unpack-" + std::to_string(n++));
                    fs::create_directories(x);
                    extract_archive(src.host_path, x, owner);
                    run_copy(part({"."}, true, true), BuildContext(x, {}), rootfs, layer_dir);
                    unpacked = true;
                }
            }
        }
        if (!unpacked)
            plain.push_back(s);
    }
    if (!plain.empty() || !spec.heredocs.empty()) {
        frontend::CopySpec c = part(plain, spec.dest_is_dir, false);
        c.heredocs = spec.heredocs;
        run_copy(c, context, rootfs, layer_dir);
    }
    for (const auto& f : inputs.fetched) {
        BuildContext fetched(f.dir, {});
        if (f.file.empty()) {
            run_copy(part({"."}, true, false), fetched, rootfs, layer_dir);
        } else if (spec.unpack_set && spec.unpack && is_archive(f.dir / f.file)) {
            fs::path x = work_dir / ("unpack-" + std::to_string(n++));
            fs::create_directories(x);
            extract_archive(f.dir / f.file, x, owner);
            run_copy(part({"."}, true, true), BuildContext(x, {}), rootfs, layer_dir);
        } else {
            run_copy(part({f.file}, spec.dest_is_dir, false), fetched, rootfs, layer_dir);
        }
    }
}

}  // namespace kiln::solver
