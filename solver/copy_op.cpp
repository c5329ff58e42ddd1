#include "solver/copy_op.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "content/atomic_file.h"
#include "content/error.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

// Path inside a tree for an absolute image path ("/a/b" → tree/a/b).
fs::path under(const fs::path& tree, const std::string& image_path) {
    return tree / fs::path(image_path).relative_path();
}

bool is_dir(const fs::path& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Makes every ancestor of `image_path` exist in layer_dir (and as directories
// in rootfs): an existing one is copied with its metadata, a new one is 0755 and
// owned by `owner` (COPY --chown's owner, as fsutil's MkdirAll with the copy's
// Chowner does in BuildKit; 0:0 otherwise).
void ensure_parents(const std::string& image_path, const fs::path& rootfs,
                    const fs::path& layer_dir, Owner owner = {}) {
    fs::path rel = fs::path(image_path).relative_path();
    fs::path acc;
    for (auto it = rel.begin(); it != rel.end(); ++it) {
        if (std::next(it) == rel.end())
            break;
        acc /= *it;
        fs::path in_layer = layer_dir / acc;
        if (is_dir(in_layer))
            continue;
        fs::path in_root = rootfs / acc;
        struct stat st;
        if (::lstat(in_root.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                throw Error("cannot copy to /" + rel.string() + ": /" + acc.string() +
                            " is not a directory");
            }
            copy_entry(in_root, st, in_layer, merge_options(false), nullptr);
        } else {
            if (::mkdir(in_layer.c_str(), 0755) != 0 && errno != EEXIST)
                throw errno_error("cannot create " + in_layer.string());
            ::chmod(in_layer.c_str(), 0755);
            if (::lchown(in_layer.c_str(), owner.uid, owner.gid) != 0 && ::geteuid() == 0)
                throw errno_error("cannot chown " + in_layer.string());
        }
    }
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

class Copier {
  public:
    Copier(const BuildContext& ctx, CopyOptions opts, const std::vector<std::string>& excludes)
        : ctx_(ctx), opts_(opts), exclude_(excludes) {}

    // Copies one source (host path `src`, context-relative `rel`) to `dst`.
    // --exclude patterns are matched against paths below the source, relative
    // to it; the source itself is never excluded (as fsutil's copier does).
    void copy(const fs::path& src, const std::string& rel, const fs::path& dst) {
        struct stat st;
        if (::lstat(src.c_str(), &st) != 0)
            throw errno_error("cannot read " + src.string());
        if (S_ISDIR(st.st_mode)) {
            copy_entry(src, st, dst, opts_, &links_);
            copy_children(src, rel, "", dst);
            restore_mtime(dst, st);
            return;
        }
        copy_entry(src, st, dst, opts_, &links_);
    }

  private:
    bool excluded(const std::string& src_rel) const {
        return !exclude_.empty() && exclude_.matches(src_rel);
    }

    // `rel`: context-relative path of `src`; `src_rel`: its path relative to
    // the COPY source ("" for the source itself).
    void copy_children(const fs::path& src, const std::string& rel, const std::string& src_rel,
                       const fs::path& dst) {
        std::vector<std::string> names;
        for (auto& e : fs::directory_iterator(src))
            names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            std::string child_rel = rel.empty() ? n : rel + "/" + n;
            std::string child_src_rel = src_rel.empty() ? n : src_rel + "/" + n;
            fs::path s = src / n;
            struct stat st;
            if (::lstat(s.c_str(), &st) != 0)
                throw errno_error("cannot read " + s.string());
            bool ignored = ctx_.ignored(child_rel);
            bool excl = !ignored && excluded(child_src_rel);
            if (ignored || excl) {
                // An ignored or excluded directory is walked only when a "!" rule
                // may bring something inside it back; it then appears as a parent only.
                bool may = ignored ? ctx_.may_reinclude_under(child_rel)
                                   : exclude_.may_reinclude_under(child_src_rel);
                if (S_ISDIR(st.st_mode) && may)
                    copy_children_lazily(s, child_rel, child_src_rel, dst / n, st);
                continue;
            }
            copy_entry(s, st, dst / n, opts_, &links_);
            if (S_ISDIR(st.st_mode)) {
                copy_children(s, child_rel, child_src_rel, dst / n);
                restore_mtime(dst / n, st);
            }
        }
    }

    void copy_children_lazily(const fs::path& src, const std::string& rel,
                              const std::string& src_rel, const fs::path& dst,
                              const struct stat& dir_st) {
        // Copy into a scratch name only if something survives; simplest: copy,
        // then remove the directory again if it stayed empty.
        copy_entry(src, dir_st, dst, opts_, &links_);
        copy_children(src, rel, src_rel, dst);
        std::error_code ec;
        if (fs::is_empty(dst, ec)) {
            fs::remove(dst, ec);
        } else {
            restore_mtime(dst, dir_st);
        }
    }

    static void restore_mtime(const fs::path& p, const struct stat& st) {
        struct timespec ts[2] = {st.st_atim, st.st_mtim};
        ::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    }

    const BuildContext& ctx_;
    CopyOptions opts_;
    frontend::PatternMatcher exclude_;
    LinkMap links_;
};

}  // namespace

void run_copy(const frontend::CopySpec& spec, const BuildContext& context, const fs::path& rootfs,
              const fs::path& layer_dir) {
    CopyOptions opts;
    opts.owner = spec.chown.empty() ? Owner{0, 0} : parse_chown(spec.chown, rootfs);
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
    // With --parents the destination is always a directory (BuildKit copies
    // the source's path under it).
    bool dest_dir = spec.dest_is_dir || spec.parents || sources.size() + spec.heredocs.size() > 1 ||
                    is_dir(under(rootfs, spec.dest));
    ensure_parents(spec.dest == "/" ? "/x" : spec.dest, rootfs, layer_dir, *opts.owner);
    if (dest_dir || spec.dest == "/") {
        fs::path d = under(layer_dir, spec.dest);
        if (!is_dir(d)) {
            struct stat st;
            fs::path in_root = under(rootfs, spec.dest);
            if (::lstat(in_root.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                copy_entry(in_root, st, d, merge_options(false), nullptr);
            } else {
                fs::create_directories(d);
                ::chmod(d.c_str(), 0755);
                if (::lchown(d.c_str(), opts.owner->uid, opts.owner->gid) != 0 && ::geteuid() == 0)
                    throw errno_error("cannot chown " + d.string());
            }
        }
    }

    std::unique_ptr<Copier> copier;
    try {
        CopyOptions entry_opts = opts;
        if (spec.keep_owners && spec.chown.empty())
            entry_opts.owner.reset();
        copier = std::make_unique<Copier>(context, entry_opts, spec.excludes);
    } catch (const frontend::PatternError& e) {
        throw Error(std::string("invalid --exclude pattern: ") + e.what());
    }
    for (size_t i = 0; i < sources.size(); ++i) {
        const auto& src = sources[i];
        struct stat st;
        if (::stat(src.host_path.c_str(), &st) != 0)
            throw errno_error("cannot read " + src.rel);
        fs::path target;
        if (spec.parents && !kept[i].empty()) {
            // The kept parents are copied from the context with their metadata
            // (owner and --chmod as for the copied entries), like fsutil's copy of
            // the context root restricted to the source path.
            std::string pivot = src.rel.substr(0, src.rel.size() - kept[i].size());
            fs::path dir = under(layer_dir, spec.dest);
            fs::path acc = pivot;
            fs::path k = kept[i];
            for (auto it = k.begin(); std::next(it) != k.end(); ++it) {
                acc /= *it;
                dir /= *it;
                struct stat pst;
                fs::path host = context.root() / acc;
                if (::lstat(host.c_str(), &pst) == 0 && S_ISDIR(pst.st_mode)) {
                    if (!is_dir(dir))
                        copy_entry(host, pst, dir, opts, nullptr);
                } else if (!is_dir(dir)) {
                    fs::create_directories(dir);
                    ::chmod(dir.c_str(), 0755);
                }
            }
            target = under(layer_dir, spec.dest) / k;
        } else if (S_ISDIR(st.st_mode) || !dest_dir) {
            target = under(layer_dir, spec.dest);
        } else {
            target = under(layer_dir, spec.dest) / src.name;
        }
        copier->copy(src.host_path, src.rel, target);
    }
    // A heredoc source is a file named by its delimiter (COPY <<EOF /dir/), or
    // the destination itself when that is a file; 0644 unless --chmod.
    for (const auto& doc : spec.heredocs) {
        fs::path target =
            dest_dir ? under(layer_dir, spec.dest) / doc.name : under(layer_dir, spec.dest);
        std::error_code ec;
        fs::remove_all(target, ec);
        mode_t mode = opts.mode ? opts.mode->apply(S_IFREG | 0644, false) : 0644;
        AtomicFile f(target, target.parent_path(), mode);
        f.write(doc.content);
        if (::fchown(f.fd(), opts.owner->uid, opts.owner->gid) != 0 && ::geteuid() == 0)
            throw errno_error("cannot chown " + target.string());
        if (::fchmod(f.fd(), mode) != 0)
            throw errno_error("cannot chmod " + target.string());
        f.commit();
    }
    if (layer_dir != rootfs)
        copy_tree(layer_dir, rootfs, merge_options(true));
}

bool run_mkdir(const std::string& path, const fs::path& rootfs, const fs::path& layer_dir) {
    if (is_dir(under(rootfs, path)))
        return false;
    ensure_parents(path + "/x", rootfs, layer_dir);
    if (layer_dir != rootfs)
        copy_tree(layer_dir, rootfs, merge_options(true));
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

std::optional<IdEntry> lookup(const fs::path& file, const std::string& name, bool is_passwd) {
    std::ifstream in(file);
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
    auto colon = spec.find(':');
    std::string user = spec.substr(0, colon);
    std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
    Owner o;
    if (auto n = numeric(user)) {
        o.uid = *n;
        o.gid = *n;
    } else if (auto u = lookup(rootfs / "etc/passwd", user, true)) {
        o.uid = u->id;
        o.gid = u->primary_gid;
    } else {
        throw Error("unable to find user " + user + ": no matching entries in passwd file");
    }
    if (!group.empty()) {
        if (auto n = numeric(group)) {
            o.gid = *n;
        } else if (auto g = lookup(rootfs / "etc/group", group, false)) {
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
