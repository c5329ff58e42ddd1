// What an ADD source names: a git repository, an HTTP(S) download, or a path in the build
// context. One answer for the frontend (which refuses git and URLs in COPY) and the solver
// (which fetches them).
//
// Contract (BuildKit's dockerfile2llb dispatchCopy: gitutil.ParseGitRef, then isHTTPSource):
//  - git: "ssh://", "git://", "http://" or "https://" (scheme case-insensitive) URLs, where an
//    HTTP(S) URL is git only when its path (before any "?query" or "#fragment") ends in
//    ".git" ("https://h/r.git", "https://h/r.git?x=1", "https://h/r.git#main:dir" are git;
//    "https://h/r.git/" and "https://h/r.git.tar" are not); and scp-like
//    "[user@]host:path[#fragment]" (user [A-Za-z0-9_-]+, host [A-Za-z0-9.-]+) unless the text
//    reads as a URL with a scheme and a path ("host:/path"). "./" and "../" paths and the
//    deprecated scheme-less "github.com/..." form are never git for ADD.
//  - http: text starting "http://" or "https://" (case as written) that is not git.
//  - local: everything else ("file:///x", "ftp://h/x", "repo.git", "dir/x").
#pragma once

#include <string_view>

namespace kiln {

enum class AddSourceKind { local, http, git };

AddSourceKind classify_add_source(std::string_view source);

inline bool is_git_source(std::string_view source) {
    return classify_add_source(source) == AddSourceKind::git;
}
inline bool is_http_source(std::string_view source) {
    return classify_add_source(source) == AddSourceKind::http;
}

}  // namespace kiln
