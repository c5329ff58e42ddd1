// A build context given as buildx takes one besides a local directory, made a
// local directory before the build reads it:
//   - a git URL (base/add_source.h's rule, as ADD's: git://, ssh://, scp-like,
//     or an http(s) URL ending in .git; "#ref[:subdir]" picks the ref and the
//     directory): cloned without .git, as BuildKit does;
//   - another http(s) URL: a tarball (plain or compressed), unpacked;
//   - "-": standard input holding a tarball.
// A download or stdin that is not an archive is the Dockerfile itself, with
// an empty context, as `docker build URL` and `docker build - < Dockerfile`.
// The directory is a fresh one under `tmp`, owned by the result; the archive
// is unpacked with nothing followed out of it (solver/add_op.h).
#pragma once

#include <filesystem>
#include <istream>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/progress.h"
#include "content/state_root.h"
#include "content/temp_dir.h"

namespace kiln::build {

// Whether `spec` names a context that fetch_context() makes: "-", or a URL
// that is not also the name of an existing directory.
bool is_remote_context(const std::string& spec);

struct RemoteContext {
    TempDir dir;  // holds the context, at dir.path() / "context", unless `cached`
    // A git context checked out at a commit: its tree, kept under the state
    // root (cache/git/<key>) for the next build of that commit.
    std::optional<std::filesystem::path> cached;
    std::filesystem::path context() const { return cached ? *cached : dir.path() / "context"; }
    // Set when what came was a Dockerfile rather than an archive or a repository.
    std::optional<std::string> dockerfile;
};

// Throws kiln::Error naming the URL (or stdin) when it cannot be fetched or
// unpacked. `stdin_stream` is read for "-" only (and must then be given).
// A git URL is keyed by the commit its ref names (`git ls-remote`, no
// objects fetched): a commit checked out before is used as it is, so an
// unchanged repository is not fetched again and its files keep their stat
// cache entries. Work in progress lives under the root's tmp/.
RemoteContext fetch_context(const std::string& spec, std::istream* stdin_stream,
                            const content::StateRoot& root, Progress& progress,
                            const CancelFlag* cancel);

}  // namespace kiln::build
