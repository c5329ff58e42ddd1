#include "solver/copy_op.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/list_dir.h"
#include "base/root_dir.h"
#include "base/unique_fd.h"
#include "solver/file_writers.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

std::optional<unsigned> numeric(const std::string& s);

// New directories on the way to a destination: 0755 whatever the umask, owned
// by `owner` (COPY --chown's, or WORKDIR's USER, as fsutil's MkdirAll with the
// copy's Chowner does in BuildKit; 0:0 otherwise).
std::function<void(int, const std::string&)> new_dirs_owned_by(Owner owner) {
    return [owner](int fd, const std::string& path) {
        if (::fchmod(fd, 0755) != 0)
            throw errno_error("cannot chmod " + path);
        if (::fchown(fd, owner.uid, owner.gid) != 0 && ::geteuid() == 0)
            throw errno_error("cannot chown " + path);
    };
}

std::string parent_path(const std::string& in_root) {
    auto slash = in_root.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : in_root.substr(0, slash);
}

std::string child_path(const std::string& dir, const std::string& name) {
    return dir == "/" ? "/" + name : dir + "/" + name;
}

UniqueFd open_dir_at(int dir, const std::string& name, const std::string& what) {
    UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOTDIR || errno == ELOOP)
            throw Error("cannot copy to non-directory: " + what);
        throw errno_error("cannot open " + what);
    }
    return fd;
}

void restore_mtime(int fd, const struct stat& st) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::futimens(fd, ts);
}

// --parents: the part of a source before a "/./" pivot, cleaned ("" when the
// source has no pivot: its whole context path is kept).
std::string parents_pivot(const std::string& source) {
    auto at = source.find("/./");
    if (at == std::string::npos)
        return "";
    std::string p = frontend::clean_path(source.substr(0, at));
    while (p.starts_with("/"))
        p.erase(0, 1);
    return p == "." ? "" : p;
}

// Copies sources out of one tree (the context, a stage, an image, a download)
// into an image root. The destination side is reached only through fds the
// in-root resolver opened; below the destination nothing is followed.
// Regular files are written by FileWriters (solver/file_writers.h) while the
// walk goes on; so a directory's mtime is put back once the walk has left it
// and every file in it is written, by whichever of them ends last.
class Copier {
  public:
    Copier(const BuildContext& ctx, CopyOptions opts, const std::vector<std::string>& excludes,
           int dst_root)
        : ctx_(ctx), opts_(opts), exclude_(excludes), writers_(writer_threads()) {
        links_.root = dst_root;
    }

    // Copies one source (`src`, context-relative `rel`) to `dst`.
    // --exclude patterns are matched against paths below the source, relative
    // to it; the source itself is never excluded (as fsutil's copier does).
    void copy(const Place& src, const struct stat& st, const std::string& rel, const Place& dst) {
        copy_entry(src, st, dst, opts_, &links_);
        if (!S_ISDIR(st.st_mode))
            return;
        auto in = open_shared(src.dir, src.name, src.path);
        auto out = open_shared(dst.dir, dst.name, dst.path, st);
        copy_children(in, src.path, rel, "", out, dst.path);
        writers_.wait();
    }  // out's mtime is put back here

    // A directory source's contents into the open directory `out`.
    void copy_contents(int in, const struct stat& st, const std::string& src_path,
                       const std::string& rel, int out, const std::string& dst_path) {
        copy_children(duplicate(in, src_path), src_path, rel, "", duplicate(out, dst_path),
                      dst_path);
        writers_.wait();
        restore_mtime(out, st);
    }

  private:
    // An open directory, shared by the walk and the writes in it: closed, and
    // on the destination side given back its source's mtime (`dated`), once
    // the last of them lets it go. At most kMaxQueued writes wait, so few are
    // open at once, whatever the tree.
    struct OpenDir {
        OpenDir(UniqueFd f, std::optional<struct stat> d) : fd(std::move(f)), dated(d) {}
        OpenDir(const OpenDir&) = delete;
        OpenDir& operator=(const OpenDir&) = delete;
        UniqueFd fd;
        std::optional<struct stat> dated;
        int get() const { return fd.get(); }
        ~OpenDir() {
            if (fd && dated)
                restore_mtime(fd.get(), *dated);
        }
    };
    using Dir = std::shared_ptr<OpenDir>;

    static std::size_t writer_threads() {
        return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
    }
    static Dir open_shared(int dir, const std::string& name, const std::string& what,
                           std::optional<struct stat> dated = std::nullopt) {
        return std::make_shared<OpenDir>(open_dir_at(dir, name, what), dated);
    }
    static Dir duplicate(int fd, const std::string& what) {
        UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
        if (!dup)
            throw errno_error("cannot open " + what);
        return std::make_shared<OpenDir>(std::move(dup), std::nullopt);
    }

    bool excluded(const std::string& src_rel) const {
        return !exclude_.empty() && exclude_.matches(src_rel);
    }

    // `rel`: context-relative path of the directory `in`; `src_rel`: its path
    // relative to the COPY source ("" for the source itself).
    void copy_children(const Dir& in, const std::string& src_path, const std::string& rel,
                       const std::string& src_rel, const Dir& out, const std::string& dst_path) {
        for (const auto& n : list_dir(in->get(), src_path)) {
            std::string child_rel = rel.empty() ? n : rel + "/" + n;
            std::string child_src_rel = src_rel.empty() ? n : src_rel + "/" + n;
            Place s{in->get(), n, src_path + "/" + n};
            Place d{out->get(), n, child_path(dst_path, n)};
            struct stat st;
            if (::fstatat(in->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                throw errno_error("cannot read " + s.path);
            bool ignored = ctx_.ignored(child_rel);
            bool excl = !ignored && excluded(child_src_rel);
            if (ignored || excl) {
                // An ignored or excluded directory is walked only when a "!" rule
                // may bring something inside it back; it then appears as a parent only.
                bool may = ignored ? ctx_.may_reinclude_under(child_rel)
                                   : exclude_.may_reinclude_under(child_src_rel);
                if (S_ISDIR(st.st_mode) && may)
                    copy_children_lazily(s, st, child_rel, child_src_rel, d);
                continue;
            }
            if (S_ISREG(st.st_mode) && st.st_nlink < 2) {
                if (!journal_keeps(s, st, d, opts_))
                    writers_.add([dirs = std::make_pair(in, out), s = std::move(s), st,
                                  d = std::move(d), this] {
                        (void)dirs;  // held open until the file is written
                        write_file(s, st, d, opts_);
                    });
                continue;
            }
            copy_entry(s, st, d, opts_, &links_);
            if (S_ISDIR(st.st_mode)) {
                copy_children(open_shared(in->get(), n, s.path), s.path, child_rel, child_src_rel,
                              open_shared(out->get(), n, d.path, st), d.path);
            }
        }
    }

    // Copies the directory, then takes it away again if nothing inside survived
    // (unless it was there before).
    void copy_children_lazily(const Place& src, const struct stat& st, const std::string& rel,
                              const std::string& src_rel, const Place& dst) {
        struct stat before;
        bool existed = ::fstatat(dst.dir, dst.name.c_str(), &before, AT_SYMLINK_NOFOLLOW) == 0;
        copy_entry(src, st, dst, opts_, &links_);
        auto in = open_shared(src.dir, src.name, src.path);
        auto out = open_shared(dst.dir, dst.name, dst.path, st);
        copy_children(in, src.path, rel, src_rel, out, dst.path);
        writers_.wait();  // what survived is there to be seen
        if (!existed && list_dir(out->get(), dst.path).empty()) {
            out->dated.reset();
            ::unlinkat(dst.dir, dst.name.c_str(), AT_REMOVEDIR);
        }
    }

    const BuildContext& ctx_;
    CopyOptions opts_;
    frontend::PatternMatcher exclude_;
    LinkMap links_;
    FileWriters writers_;  // last: its jobs use the members above
};

// A heredoc's bytes as the file `dst` (0644 unless --chmod), written under a
// temporary name in the same directory and renamed over what was there.
void write_heredoc(const Place& dst, const std::string& content, mode_t mode, Owner owner) {
    struct stat st;
    if (::fstatat(dst.dir, dst.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        throw Error("cannot replace directory " + dst.path + " with a file");
    std::string tmp = ".kiln-heredoc-" + std::to_string(::getpid()) + "-" + dst.name;
    if (tmp.size() > 255)
        tmp = ".kiln-heredoc-" + std::to_string(::getpid());
    ::unlinkat(dst.dir, tmp.c_str(), 0);
    UniqueFd f(
        ::openat(dst.dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!f)
        throw errno_error("cannot create " + dst.path);
    try {
        write_all(f.get(), content.data(), content.size(), dst.path.c_str());
        if (::fchown(f.get(), owner.uid, owner.gid) != 0 && ::geteuid() == 0)
            throw errno_error("cannot chown " + dst.path);
        if (::fchmod(f.get(), mode) != 0)
            throw errno_error("cannot chmod " + dst.path);
        if (::renameat(dst.dir, tmp.c_str(), dst.dir, dst.name.c_str()) != 0)
            throw errno_error("cannot create " + dst.path);
    } catch (...) {
        ::unlinkat(dst.dir, tmp.c_str(), 0);
        throw;
    }
}

// The directory fd (O_PATH) and name under which `host` lies in `tree`.
struct SourceEntry {
    InRoot at;
    UniqueFd parent_of_root;  // when the source is the tree's root itself
    Place place;
};

SourceEntry open_source(const RootDir& tree, const std::filesystem::path& tree_path,
                        const std::filesystem::path& host) {
    SourceEntry e;
    std::string rel = host.lexically_relative(tree_path).string();
    if (rel == ".")
        rel.clear();
    e.at = tree.resolve("/" + rel, Follow::not_last);
    if (!e.at.exists)
        throw Error("\"/" + rel + "\": not found");
    if (e.at.name.empty()) {
        e.parent_of_root =
            UniqueFd(::open(tree_path.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!e.parent_of_root)
            throw errno_error("cannot open " + tree_path.parent_path().string());
        e.place = {e.parent_of_root.get(), tree_path.filename(), tree_path.string()};
    } else {
        e.place = {e.at.dir.get(), e.at.name, (tree_path / rel).string()};
    }
    return e;
}

}  // namespace

void run_copy(const frontend::CopySpec& spec, const BuildContext& context, const fs::path& rootfs,
              CopyRecorder* journal) {
    RootDir root(rootfs);
    const bool again = dynamic_cast<CopyRebaser*>(journal) != nullptr;
    // A name is the image's to say, and a rebaser's tree holds only the copy's result.
    if (again && !spec.chown.empty() && !numeric(spec.chown.substr(0, spec.chown.find(':'))))
        throw NotIncremental("--chown names a user");
    if (again && spec.chown.find(':') != std::string::npos &&
        !numeric(spec.chown.substr(spec.chown.find(':') + 1)))
        throw NotIncremental("--chown names a group");
    CopyOptions opts;
    opts.journal = journal;
    opts.owner = spec.chown.empty() ? Owner{0, 0} : parse_chown(spec.chown, root);
    if (!spec.chmod.empty())
        opts.mode = parse_chmod(spec.chmod);

    std::vector<ContextSource> sources;
    std::vector<std::string> kept;  // --parents: the path kept under dest, per source
    for (const auto& s : spec.sources) {
        auto found = context.resolve(s);
        sources.insert(sources.end(), found.begin(), found.end());
        if (spec.parents) {
            std::string pivot = parents_pivot(s);
            for (const auto& f : found) {
                std::string k = f.rel;
                if (!pivot.empty() && (k == pivot || k.starts_with(pivot + "/")))
                    k = k.substr(std::min(k.size(), pivot.size() + 1));
                kept.push_back(k);
            }
        }
    }
    // As the reference says: a wildcard may match nothing only if another source matched.
    if (sources.empty() && spec.heredocs.empty()) {
        std::string all;
        for (const auto& s : spec.sources)
            all += (all.empty() ? "" : " ") + s;
        throw Error("no source files were specified: " + all + " matches nothing");
    }

    // The destination is resolved in the image root as the container would see
    // it, its last component included (BuildKit's fs.RootPath): COPY f /bin/f
    // on a merged-/usr image writes /usr/bin/f, and a link to a file has its
    // target replaced. With --parents the destination is always a directory.
    UniqueFd dir;  // the destination directory, or the one holding it
    std::string dir_path;
    std::string leaf;  // "" when the destination is `dir` itself
    bool dest_dir = false;
    try {
        InRoot dest = root.resolve(spec.dest);
        dest_dir = spec.dest_is_dir || spec.parents || sources.size() + spec.heredocs.size() > 1 ||
                   dest.is_dir() || dest.name.empty();
        auto made = new_dirs_owned_by(*opts.owner);
        if (again)  // the previous copy made or met every directory on the way
            made = [](int, const std::string& path) {
                throw NotIncremental("no directory " + path + " in the previous result");
            };
        if (dest_dir) {
            dir_path = dest.path;
        } else {
            dir_path = parent_path(dest.path);
            leaf = dest.name;
        }
        if (journal)
            journal->before_copy(root, dir_path);
        dir = root.mkdir_all(dir_path, 0755, made);
    } catch (const Error& e) {
        throw Error("cannot copy to " + spec.dest + ": " + e.what());
    }

    std::unique_ptr<Copier> copier;
    try {
        CopyOptions entry_opts = opts;
        if (spec.keep_owners && spec.chown.empty())
            entry_opts.owner.reset();
        copier = std::make_unique<Copier>(context, entry_opts, spec.excludes, root.fd());
    } catch (const frontend::PatternError& e) {
        throw Error(std::string("invalid --exclude pattern: ") + e.what());
    }
    RootDir tree(context.root());
    for (size_t i = 0; i < sources.size(); ++i) {
        const auto& src = sources[i];
        SourceEntry from = open_source(tree, context.root(), src.host_path);
        struct stat st = from.at.st;
        if (from.at.name.empty() && ::fstat(tree.fd(), &st) != 0)
            throw errno_error("cannot read " + context.root().string());
        if (spec.parents && !kept[i].empty()) {
            // The kept parents are copied from the context with their metadata
            // (owner and --chmod as for the copied entries), like fsutil's copy of
            // the context root restricted to the source path.
            std::string pivot = src.rel.substr(0, src.rel.size() - kept[i].size());
            UniqueFd cur(::fcntl(dir.get(), F_DUPFD_CLOEXEC, 0));
            std::string cur_path = dir_path;
            std::string acc = pivot;
            while (!acc.empty() && acc.back() == '/')
                acc.pop_back();
            fs::path k = kept[i];
            for (auto it = k.begin(); std::next(it) != k.end(); ++it) {
                std::string name = it->string();
                acc = acc.empty() ? name : acc + "/" + name;
                std::string next_path = child_path(cur_path, name);
                InRoot host = tree.resolve("/" + acc, Follow::not_last);
                struct stat dst_st;
                bool there = ::fstatat(cur.get(), name.c_str(), &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
                if (host.is_dir()) {
                    if (!there)
                        copy_entry({host.dir.get(), host.name, acc}, host.st,
                                   {cur.get(), name, next_path}, opts, nullptr);
                } else if (!there) {
                    if (::mkdirat(cur.get(), name.c_str(), 0755) != 0)
                        throw errno_error("cannot create " + next_path);
                    ::fchmodat(cur.get(), name.c_str(), 0755, 0);
                }
                cur = open_dir_at(cur.get(), name, next_path);
                cur_path = next_path;
            }
            std::string last = k.filename();
            copier->copy(from.place, st, src.rel, {cur.get(), last, child_path(cur_path, last)});
        } else if (S_ISDIR(st.st_mode) && leaf.empty()) {
            UniqueFd in = open_dir_at(from.place.dir, from.place.name, from.place.path);
            copier->copy_contents(in.get(), st, from.place.path, src.rel, dir.get(), dir_path);
            if (journal)
                journal->dated_by_source(dir_path, st.st_mtim);
        } else if (!leaf.empty()) {
            copier->copy(from.place, st, src.rel, {dir.get(), leaf, child_path(dir_path, leaf)});
        } else {
            copier->copy(from.place, st, src.rel,
                         {dir.get(), src.name, child_path(dir_path, src.name)});
        }
    }
    // A heredoc source is a file named by its delimiter (COPY <<EOF /dir/), or
    // the destination itself when that is a file; 0644 unless --chmod.
    for (const auto& doc : spec.heredocs) {
        std::string name = leaf.empty() ? doc.name : leaf;
        mode_t mode = opts.mode ? opts.mode->apply(S_IFREG | 0644, false) : 0644;
        write_heredoc({dir.get(), name, child_path(dir_path, name)}, doc.content, mode,
                      *opts.owner);
    }
    if (journal)
        journal->after_copy(root, dir_path);
}

bool run_mkdir(const std::string& path, const fs::path& rootfs, Owner owner) {
    RootDir root(rootfs);
    try {
        if (root.resolve(path).is_dir())
            return false;
        root.mkdir_all(path, 0755, new_dirs_owned_by(owner));
    } catch (const Error& e) {
        throw Error("cannot create " + path + ": " + e.what());
    }
    return true;
}

namespace {

// Finds `name` in a passwd or group file: its id (third field) and, for
// passwd, its primary group (fourth field). Malformed lines are skipped.
struct IdEntry {
    unsigned id = 0;
    unsigned primary_gid = 0;
};
std::optional<unsigned> numeric(const std::string& s);

std::optional<IdEntry> lookup(const RootDir& root, const std::string& file, const std::string& name,
                              bool is_passwd) {
    // Read inside the image root: /etc/passwd may be a link, and it is the
    // image's idea of users that counts, never the host's.
    std::stringstream in(root.read_file(file).value_or(""));
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string x;
        while (std::getline(ss, x, ':'))
            f.push_back(x);
        if (f.size() < 3 || f[0] != name)
            continue;
        auto id = numeric(f[2]);
        if (!id)
            continue;
        IdEntry e{*id, *id};
        if (is_passwd && f.size() >= 4) {
            if (auto g = numeric(f[3]))
                e.primary_gid = *g;
        }
        return e;
    }
    return std::nullopt;
}

std::optional<unsigned> numeric(const std::string& s) {
    if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit))
        return std::nullopt;
    unsigned long v = std::stoul(s);
    if (v > 0xffffffffUL)
        return std::nullopt;
    return static_cast<unsigned>(v);
}

}  // namespace

Owner parse_chown(const std::string& spec, const fs::path& rootfs) {
    return parse_chown(spec, RootDir(rootfs));
}

Owner parse_chown(const std::string& spec, const RootDir& root) {
    auto colon = spec.find(':');
    std::string user = spec.substr(0, colon);
    std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
    Owner o;
    if (auto n = numeric(user)) {
        o.uid = *n;
        o.gid = *n;
    } else if (auto u = lookup(root, "/etc/passwd", user, true)) {
        o.uid = u->id;
        o.gid = u->primary_gid;
    } else {
        throw Error("unable to find user " + user + ": no matching entries in passwd file");
    }
    if (!group.empty()) {
        if (auto n = numeric(group)) {
            o.gid = *n;
        } else if (auto g = lookup(root, "/etc/group", group, false)) {
            o.gid = g->id;
        } else {
            throw Error("unable to find group " + group + ": no matching entries in group file");
        }
    }
    return o;
}

ChmodSpec parse_chmod(const std::string& spec) {
    return ChmodSpec::parse(spec);
}

}  // namespace kiln::solver
