// base/add_source.h: which ADD sources are git remotes, downloads or context paths, with
// BuildKit's answers (dockerfile2llb: gitutil.ParseGitRef, then isHTTPSource).
#include <gtest/gtest.h>

#include <string>

#include "base/add_source.h"

namespace kiln {
namespace {

const char* kind_name(AddSourceKind k) {
    switch (k) {
        case AddSourceKind::git:
            return "git";
        case AddSourceKind::http:
            return "http";
        case AddSourceKind::local:
            return "local";
    }
    return "?";
}

void expect_kind(const std::string& source, AddSourceKind want) {
    EXPECT_STREQ(kind_name(classify_add_source(source)), kind_name(want)) << source;
}

TEST(AddSource, TheThreeCasesFrontendAndSolverDisagreedOn) {
    // The path is "/r.git/", which does not end in ".git".
    expect_kind("https://h/r.git/", AddSourceKind::http);
    // The query is not part of the path, which ends in ".git".
    expect_kind("https://h/r.git?x=1", AddSourceKind::git);
    // scp-like remotes with any user name.
    expect_kind("user@host:path", AddSourceKind::git);
}

TEST(AddSource, GitRemotes) {
    for (const char* s : {
             "https://github.com/moby/buildkit.git",
             "https://github.com/moby/buildkit.git#v0.10.1",
             "https://github.com/moby/buildkit.git#main:docs",
             "https://foo:bar@github.com/moby/buildkit.git",
             "http://host/repo.git",
             "HTTPS://host/repo.git",
             "git://github.com/moby/buildkit",
             "ssh://git@github.com/moby/buildkit.git",
             "git@github.com:moby/buildkit.git",
             "git@github.com:moby/buildkit",
             "git@github.com:moby/buildkit.git#v1.0",
             "nonstandarduser@example.com:/srv/repos/weird/project.git",
             "other_Funky-username52@example.com:path/to/repo.git/",
             "teddy@4houses-down.com:/~/catnip.git/",
             "weird:user@helloworld.net:foo/bar.git",
             // sshutil's scp form makes the user optional.
             "github.com:moby/buildkit.git",
         }) {
        expect_kind(s, AddSourceKind::git);
    }
}

TEST(AddSource, HttpDownloads) {
    for (const char* s : {
             "https://example.com/",
             "https://example.com/file.tar.gz",
             "https://github.com/moby/buildkit",
             "https://example.com/x.git.tar",
             "https://example.com/foo.git.bar",
             "http://github.com/docker/docker.git:#branch",
             "https://example.com/file?x=1#frag",
         }) {
        expect_kind(s, AddSourceKind::http);
    }
}

TEST(AddSource, ContextPaths) {
    for (const char* s : {
             "file.txt",
             "dir/file",
             "repo.git",
             "dir/repo.git",
             "./.git",
             ".git",
             "./a:b",
             "../x:y",
             // Deprecated scheme-less GitHub form: a local path for ADD.
             "github.com/moby/buildkit",
             "file:///srv/repo.git",
             "ftp://example.com/x",
             "git+ssh://host/repo.git",
             "helloworld.net",
             "git@helloworld.net",
             "git@helloworld.net/foo/bar.git",
             // A scheme followed by a rooted path is a URL, not scp-like.
             "host:/path",
             "",
         }) {
        expect_kind(s, AddSourceKind::local);
    }
}

TEST(AddSource, Predicates) {
    EXPECT_TRUE(is_git_source("git@github.com:moby/moby.git"));
    EXPECT_FALSE(is_http_source("git@github.com:moby/moby.git"));
    EXPECT_TRUE(is_http_source("https://example.com/x"));
    EXPECT_FALSE(is_git_source("https://example.com/x"));
    EXPECT_FALSE(is_http_source("./http://x"));
}

}  // namespace
}  // namespace kiln
