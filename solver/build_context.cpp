#include "solver/build_context.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "base/error.h"
#include "base/root_dir.h"
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

BuildContext::BuildContext(fs::path root, const std::vector<std::string>& ignore_patterns)
    : root_(fs::weakly_canonical(root)), ignore_(ignore_patterns) {}

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
void describe(const BuildContext& ctx, const fs::path& host, const std::string& rel,
              const std::string& as, StatCache& stats, std::vector<std::string>& lines, bool top,
              const frontend::PatternMatcher& exclude, const std::string& src_rel,
              std::map<std::string, std::string>* files) {
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0)
        throw errno_error("cannot read " + host.string());
    std::string line = as + "\t" + std::to_string(st.st_mode) + "\t";
    std::string what = "dir";
    if (S_ISREG(st.st_mode)) {
        auto d = stats.digest(rel, host, st).str();
        line += d;
        what = d.substr(0, 7 + 12);
    } else if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        line += "-> " + fs::read_symlink(host, ec).string();
        what = "->" + fs::read_symlink(host, ec).string();
    }
    if (!(top && S_ISDIR(st.st_mode))) {
        lines.push_back(line);
        if (files) {
            char mode[16];
            std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode));
            (*files)[rel.empty() ? "." : rel] = std::string(mode) + " " + what;
        }
    }
    if (!S_ISDIR(st.st_mode))
        return;
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(host))
        names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        std::string child = rel.empty() ? n : rel + "/" + n;
        std::string child_src = src_rel.empty() ? n : src_rel + "/" + n;
        if (!exclude.empty() && exclude.matches(child_src)) {
            // What --exclude leaves out is not an input either (unless a "!"
            // rule may bring something inside it back).
            struct stat cst;
            if (::lstat((host / n).c_str(), &cst) == 0 && S_ISDIR(cst.st_mode) &&
                exclude.may_reinclude_under(child_src))
                describe(ctx, host / n, child, as + "/" + n, stats, lines, false, exclude,
                         child_src, files);
            continue;
        }
        if (ctx.ignored(child)) {
            struct stat cst;
            if (::lstat((host / n).c_str(), &cst) == 0 && S_ISDIR(cst.st_mode) &&
                ctx.may_reinclude_under(child)) {
                describe(ctx, host / n, child, as + "/" + n, stats, lines, false, exclude,
                         src_rel.empty() ? n : src_rel + "/" + n, files);
            }
            continue;
        }
        describe(ctx, host / n, child, as + "/" + n, stats, lines, false, exclude,
                 src_rel.empty() ? n : src_rel + "/" + n, files);
    }
}

}  // namespace

content::Digest BuildContext::sources_digest(const std::vector<std::string>& sources,
                                             StatCache& stats,
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
            if (::stat(src.host_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
                describe(*this, src.host_path, src.rel, src.name, stats, lines, true, exclude, "",
                         files);
            } else {
                // The source itself, followed if it is a link (as COPY follows it).
                std::vector<std::string> one;
                describe(*this, src.host_path, src.rel, src.name, stats, one, false, exclude, "",
                         files);
                lines.insert(lines.end(), one.begin(), one.end());
            }
        }
        h.update("source " + s + "\n");
        for (const auto& l : lines)
            h.update(l + "\n");
    }
    return h.finish();
}

}  // namespace kiln::solver
