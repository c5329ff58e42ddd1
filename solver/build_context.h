// The build context as COPY sees it: a directory, filtered by .dockerignore,
// out of which no path may lead.
//
// Invariants: every host path this class hands out lies inside root().
// Symlinks met while resolving a source are followed only within the
// context (an absolute target or ".." is taken relative to the context root,
// as BuildKit does), so no source reaches a file outside it.
#pragma once

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "content/digest.h"
#include "frontend/dockerignore.h"

namespace kiln::solver {

class StatCache;

struct ContextSource {
    std::filesystem::path host_path;  // inside root(), symlinks resolved
    std::string rel;                  // clean relative path as matched ("" = the root)
    std::string name;                 // the name the source was asked for (last component)
};

class BuildContext {
  public:
    // `shared`: the context serves several solves at once (the platforms of
    // one build), so sources_digest() remembers its answers (below).
    BuildContext(std::filesystem::path root, const std::vector<std::string>& ignore_patterns,
                 bool shared = false);

    const std::filesystem::path& root() const { return root_; }
    // `rel` is clean and relative ("a/b").
    bool ignored(const std::string& rel) const;
    bool may_reinclude_under(const std::string& rel) const;
    // Whether .dockerignore has any rule (else nothing is ever ignored).
    bool has_ignore_rules() const { return !ignore_.empty(); }

    // Expands one COPY source (wildcards per Go's filepath.Match) into the
    // entries it names, sorted. Throws kiln::Error when the source escapes
    // the context, or when a source without wildcards names nothing (ignored
    // files count as absent). A wildcard matching nothing gives an empty list.
    std::vector<ContextSource> resolve(const std::string& source) const;

    // A digest of everything COPY would take for `sources`: for each entry
    // (the same selection copying makes: wildcards, .dockerignore) its path,
    // type, mode, link target and content digest (not its owner: COPY makes
    // it root's, and two checkouts by different users must share keys). File contents come
    // from `stats` when unchanged, so an unchanged context reads no file.
    // Throws like resolve().
    // Paths `excludes` (COPY --exclude, relative to each source) matches are
    // left out, as COPY leaves them out.
    // `files`, when given, gets each entry's summary (solver/explain.h).
    // A shared context reads its files once per build, as BuildKit transfers
    // a context once for all platforms: the same sources and excludes asked
    // again get the first answer (an error too), and an asker that comes while
    // the first is still reading waits for it. Safe to call from several threads.
    content::Digest sources_digest(const std::vector<std::string>& sources, StatCache& stats,
                                   const std::vector<std::string>& excludes = {},
                                   std::map<std::string, std::string>* files = nullptr) const;

  private:
    struct Described {
        content::Digest digest;
        std::map<std::string, std::string> files;
    };
    content::Digest describe(const std::vector<std::string>& sources, StatCache& stats,
                             const std::vector<std::string>& excludes,
                             std::map<std::string, std::string>* files) const;
    std::filesystem::path scoped_resolve(const std::string& rel) const;
    std::filesystem::path root_;
    frontend::PatternMatcher ignore_;
    bool shared_ = false;
    mutable std::mutex answers_mu_;
    mutable std::map<std::string, std::shared_future<Described>> answers_;
};

// A local named context (--build-context NAME=DIR, or a fetched URL): COPY
// --from=NAME, RUN --mount from=NAME and FROM NAME read it as they read the
// build context (its own .dockerignore applies), with a stat cache of its own.
struct NamedContext {
    NamedContext(std::filesystem::path root, const std::vector<std::string>& ignore_patterns,
                 StatCache& stat_cache)
        : context(std::move(root), ignore_patterns, true), stats(&stat_cache) {}
    BuildContext context;  // shared: the platforms of a build read it once
    StatCache* stats;
};

}  // namespace kiln::solver
