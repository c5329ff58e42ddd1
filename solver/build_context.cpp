#include "solver/build_context.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "base/error.h"
#include "base/list_dir.h"
#include "base/root_dir.h"
#include "base/unique_fd.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split(const std::string& p) {
    std::vector<std::string> out;
    std::stringstream ss(p);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (!part.empty() && part != ".")
            out.push_back(part);
    }
    return out;
}

bool has_wildcard(const std::string& s) {
    return s.find_first_of("*?[") != std::string::npos;
}

std::string join(const std::vector<std::string>& parts, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i)
        out += (i ? "/" : "") + parts[i];
    return out;
}

}  // namespace

BuildContext::BuildContext(fs::path root, const std::vector<std::string>& ignore_patterns,
                           bool shared)
    : root_(fs::weakly_canonical(root)), ignore_(ignore_patterns), shared_(shared) {}

bool BuildContext::ignored(const std::string& rel) const {
    if (rel.empty() || ignore_.empty())
        return false;
    try {
        return ignore_.matches(rel);
    } catch (const frontend::PatternError& e) {
        throw Error(std::string(".dockerignore: ") + e.what());
    }
}

bool BuildContext::may_reinclude_under(const std::string& rel) const {
    return ignore_.may_reinclude_under(rel);
}

fs::path BuildContext::scoped_resolve(const std::string& rel) const {
    // The one in-root resolver: a link's target is resolved again relative to
    // the tree's root, never the host's.
    InRoot r = RootDir(root_).resolve("/" + rel);
    return r.path == "/" ? root_ : root_ / r.path.substr(1);
}

std::vector<ContextSource> BuildContext::resolve(const std::string& source) const {
    // Lexically clean first: a source may not climb out of the context.
    std::vector<std::string> parts;
    for (const auto& p : split(source)) {
        if (p == "..") {
            if (parts.empty())
                throw Error(source + ": path is outside the build context");
            parts.pop_back();
        } else {
            parts.push_back(p);
        }
    }
    std::vector<ContextSource> out;
    if (!std::any_of(parts.begin(), parts.end(), has_wildcard)) {
        std::string rel = join(parts, parts.size());
        fs::path host;
        try {
            host = scoped_resolve(rel);
        } catch (const Error& e) {
            throw Error("\"/" + rel + "\": not found in the build context (" + e.what() + ")");
        }
        struct stat st;
        if (ignored(rel) || ::lstat(host.c_str(), &st) != 0) {
            throw Error("\"/" + rel + "\": not found in the build context");
        }
        out.push_back({host, rel, parts.empty() ? "" : parts.back()});
        return out;
    }
    // Wildcards: match level by level against directory listings.
    std::vector<std::string> level = {""};
    for (size_t i = 0; i < parts.size(); ++i) {
        std::vector<std::string> next;
        for (const auto& dir : level) {
            if (!has_wildcard(parts[i])) {
                next.push_back(dir.empty() ? parts[i] : dir + "/" + parts[i]);
                continue;
            }
            fs::path host;
            try {
                host = scoped_resolve(dir);
            } catch (const Error&) {
                continue;  // a file or a loop on the way: nothing matches below it
            }
            std::error_code ec;
            if (!fs::is_directory(host, ec))
                continue;
            for (auto& e : fs::directory_iterator(host, ec)) {
                std::string name = e.path().filename();
                if (::fnmatch(parts[i].c_str(), name.c_str(), FNM_PATHNAME) == 0)
                    next.push_back(dir.empty() ? name : dir + "/" + name);
            }
        }
        level = std::move(next);
    }
    std::sort(level.begin(), level.end());
    for (const auto& rel : level) {
        fs::path host;
        try {
            host = scoped_resolve(rel);
        } catch (const Error&) {
            continue;
        }
        struct stat st;
        if (ignored(rel) || ::lstat(host.c_str(), &st) != 0)
            continue;
        out.push_back({host, rel, rel.substr(rel.rfind('/') + 1)});
    }
    return out;  // may be empty: COPY decides whether that is an error
}

namespace {

// One line per entry: name, mode, content digest or link target. The owner
// is not in it: COPY makes context files root's (and BuildKit resets their
// uid/gid too), so two checkouts by different users share a key. `files`,
// when given, gets the entry's summary for --explain-cache ("MODE CONTENT").
//
// A directory's entries are read relative to its open descriptor (opened
// without following a link), so a 20,000-file context costs one short
// lookup per file rather than a walk of its whole path, and a directory
// swapped for a link meanwhile is not followed out of the context.
class Describer {
  public:
    Describer(const BuildContext& ctx, StatCache& stats, std::vector<std::string>& lines,
              const frontend::PatternMatcher& exclude, std::map<std::string, std::string>* files)
        : ctx_(ctx), stats_(stats), lines_(lines), exclude_(exclude), files_(files) {}

    // A source as resolve() gave it (its own links already resolved).
    void source(const fs::path& host, const std::string& rel, const std::string& as, bool top) {
        struct stat st;
        if (::lstat(host.c_str(), &st) != 0)
            throw errno_error("cannot read " + host.string());
        std::string target;
        if (S_ISLNK(st.st_mode)) {
            std::error_code ec;
            target = fs::read_symlink(host, ec).string();
        }
        entry(host, rel, as, st, target, top);
        if (!S_ISDIR(st.st_mode))
            return;
        UniqueFd dir(::open(host.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir)
            throw errno_error("cannot read " + host.string());
        children(dir.get(), host, rel, as, "");
    }

  private:
    void entry(const fs::path& host, const std::string& rel, const std::string& as,
               const struct stat& st, const std::string& link_target, bool top) {
        if (top && S_ISDIR(st.st_mode))
            return;
        std::string line = as + "\t" + std::to_string(st.st_mode) + "\t";
        std::string what = "dir";
        if (S_ISREG(st.st_mode)) {
            auto d = stats_.digest(rel, host, st).str();
            line += d;
            what = d.substr(0, 7 + 12);
        } else if (S_ISLNK(st.st_mode)) {
            line += "-> " + link_target;
            what = "->" + link_target;
        }
        lines_.push_back(std::move(line));
        if (files_) {
            char mode[16];
            std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode));
            (*files_)[rel.empty() ? "." : rel] = std::string(mode) + " " + what;
        }
    }

    static bool is_dir_at(int dir_fd, const DirEntry& e) {
        if (e.type != DT_UNKNOWN)
            return e.type == DT_DIR;
        struct stat st;
        return ::fstatat(dir_fd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
    }

    void children(int dir_fd, const fs::path& host, const std::string& rel, const std::string& as,
                  const std::string& src_rel) {
        for (const DirEntry& e : list_dir_typed(dir_fd, host.string())) {
            const std::string& n = e.name;
            std::string child = rel.empty() ? n : rel + "/" + n;
            std::string child_src = src_rel.empty() ? n : src_rel + "/" + n;
            // What --exclude or .dockerignore leaves out is not an input
            // either (unless a "!" rule may bring something inside it back).
            bool walk_only = false;
            if (!exclude_.empty() && exclude_.matches(child_src)) {
                if (!is_dir_at(dir_fd, e) || !exclude_.may_reinclude_under(child_src))
                    continue;
                walk_only = true;
            } else if (ctx_.ignored(child)) {
                if (!is_dir_at(dir_fd, e) || !ctx_.may_reinclude_under(child))
                    continue;
                walk_only = true;
            }
            fs::path child_host = host / n;
            struct stat st;
            if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                throw errno_error("cannot read " + child_host.string());
            if (walk_only && !S_ISDIR(st.st_mode))
                continue;
            std::string target;
            if (S_ISLNK(st.st_mode))
                target = read_link_at(dir_fd, n);
            // An excluded or ignored directory that is walked has its own
            // line too, like any directory.
            entry(child_host, child, as + "/" + n, st, target, false);
            if (!S_ISDIR(st.st_mode))
                continue;
            UniqueFd sub(
                ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub)
                throw errno_error("cannot read " + child_host.string());
            children(sub.get(), child_host, child, as + "/" + n, child_src);
        }
    }

    static std::string read_link_at(int dir_fd, const std::string& name) {
        std::string target(256, '\0');
        for (;;) {
            ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
            if (n < 0)
                return "";  // as fs::read_symlink with an error code gave
            if (static_cast<std::size_t>(n) < target.size()) {
                target.resize(static_cast<std::size_t>(n));
                return target;
            }
            target.resize(target.size() * 2);
        }
    }

    const BuildContext& ctx_;
    StatCache& stats_;
    std::vector<std::string>& lines_;
    const frontend::PatternMatcher& exclude_;
    std::map<std::string, std::string>* files_;
};

}  // namespace

content::Digest BuildContext::describe(const std::vector<std::string>& sources, StatCache& stats,
                                       const std::vector<std::string>& excludes,
                                       std::map<std::string, std::string>* files) const {
    std::optional<frontend::PatternMatcher> matcher;
    try {
        matcher.emplace(excludes);
    } catch (const frontend::PatternError& e) {
        throw Error(std::string("invalid --exclude pattern: ") + e.what());
    }
    const frontend::PatternMatcher& exclude = *matcher;
    content::Sha256 h;
    for (const auto& s : sources) {
        std::vector<std::string> lines;
        for (const auto& src : resolve(s)) {
            struct stat st;
            const bool dir = ::stat(src.host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            // The source itself, followed if it is a link (as COPY follows it).
            Describer(*this, stats, lines, exclude, files)
                .source(src.host_path, src.rel, src.name, dir);
        }
        h.update("source " + s + "\n");
        for (const auto& l : lines)
            h.update(l + "\n");
    }
    return h.finish();
}

content::Digest BuildContext::sources_digest(const std::vector<std::string>& sources,
                                             StatCache& stats,
                                             const std::vector<std::string>& excludes,
                                             std::map<std::string, std::string>* files) const {
    if (!shared_)
        return describe(sources, stats, excludes, files);
    // NUL cannot be in a source or a pattern: the key names one question.
    std::string question;
    for (const auto& s : sources)
        question += s + '\0';
    question += '\0';
    for (const auto& e : excludes)
        question += e + '\0';
    std::promise<Described> answer;
    std::shared_future<Described> known;
    {
        std::lock_guard lock(answers_mu_);
        auto [it, first] = answers_.try_emplace(question);
        if (first)
            it->second = answer.get_future().share();
        else
            known = it->second;
    }
    if (!known.valid()) {
        try {
            Described d;
            d.digest = describe(sources, stats, excludes, &d.files);
            answer.set_value(std::move(d));
        } catch (...) {
            answer.set_exception(std::current_exception());
        }
        std::lock_guard lock(answers_mu_);
        known = answers_.at(question);
    }
    const Described& d = known.get();
    if (files)
        files->insert(d.files.begin(), d.files.end());
    return d.digest;
}

}  // namespace kiln::solver
