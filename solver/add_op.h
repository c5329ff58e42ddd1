// ADD's sources that are not plain context files.
//
// Contract:
//  - Local tar archives (plain, gzip, bzip2, xz, zstd — detected by content,
//    not name) are extracted into the destination directory. ".wh." entries
//    are ordinary files here (ADD is not a layer). Nothing is ever written
//    outside `dest_dir`: entries with ".." components or absolute paths are
//    refused, no path is resolved through a symlink (an entry below a symlink
//    is refused; a symlink entry is created, never followed), and hard links
//    must name an entry inside `dest_dir`.
//  - http(s) URLs are downloaded (temp file + fsync + rename, mode 0600,
//    mtime from Last-Modified when the server sends it), verified against
//    --checksum=sha256:... when given.
//  - Which sources are URLs and which git remotes is base/add_source.h's answer.
//  - Git URLs (https://host/repo.git#ref[:subdir], git@host:repo, git://,
//    ssh://, and for fetch_git also file:// and plain paths) are cloned with
//    Debian's `git`, shallow where the server allows it; `.git` is kept only
//    with --keep-git-dir.
//  - Every failure throws kiln::Error naming the URL or archive (credentials
//    in a URL are redacted from messages).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "content/digest.h"
#include "frontend/build_plan.h"
#include "solver/build_context.h"

namespace kiln::solver {

// True when `file` is a regular file holding a tar archive, possibly
// compressed with gzip, bzip2, xz or zstd (sniffed from content, not name).
bool is_archive(const std::filesystem::path& file);

// Extracts `archive` into `dest_dir` (created with its parents if missing).
// `dest_dir` itself is opened as given (the caller resolves it inside the
// rootfs); below it, nothing is followed.
// Owners are the archive's (applied when running as root) unless `owner` is
// given, in which case every extracted entry gets it. Modes (incl.
// setuid/setgid/sticky), symlinks, hard links, xattrs and mtimes are kept.
// An existing directory met by a directory entry is merged and takes the
// entry's metadata; anything else in the way is replaced. The archive's root
// entry ("./") does not change `dest_dir` itself.
void extract_archive(const std::filesystem::path& archive, const std::filesystem::path& dest_dir,
                     const std::optional<std::pair<uid_t, gid_t>>& owner);

// Downloads `url` to `file` (temp + rename, mode 0600), returns its sha256;
// throws kiln::Error naming the URL on HTTP errors, connection failures, or
// checksum mismatch (`checksum` "" = not checked; else "sha256:<hex>").
// https uses the CAs and client certificates of the URL's host under
// /etc/docker/certs.d (and /etc/containers/certs.d), as registries do. A set
// `cancel` abandons the download (kiln::Cancelled).
content::Digest fetch_url(const std::string& url, const std::filesystem::path& file,
                          const std::string& checksum, const CancelFlag* cancel = nullptr);

// The name BuildKit gives a downloaded file when the destination is a
// directory: the last component of the URL's path ("" when it has none, e.g.
// "https://host/"; the caller then picks a name).
std::string url_filename(const std::string& url);

// `url` with its credentials replaced, for messages and progress lines:
// "https://user:secret@host/x" → "https://***@host/x".
std::string redact_url(const std::string& url);

// A git URL's parts: "REMOTE#REF:SUBDIR" (REF and SUBDIR may be empty).
struct GitUrl {
    std::string remote, ref, subdir;
};
GitUrl parse_git_url(const std::string& url);

// The commit `url`'s ref (HEAD when none) names on its remote, asked with
// `git ls-remote` (no objects fetched); the ref itself when it is a full
// commit id. nullopt when the remote cannot say (unreachable, or a ref
// ls-remote does not list, such as an abbreviated commit).
std::optional<std::string> resolve_git_commit(const std::string& url,
                                              const CancelFlag* cancel = nullptr);

// Clones `url` (with #ref[:subdir]) into `dir` (which must not exist, or be
// an empty directory); keep_git_dir keeps .git (ignored with a subdir, as
// BuildKit). Throws kiln::Error naming the URL; a set `cancel` kills git
// (kiln::Cancelled).
void fetch_git(const std::string& url, const std::filesystem::path& dir, bool keep_git_dir,
               const CancelFlag* cancel = nullptr);

}  // namespace kiln::solver

namespace kiln::solver {

// What an ADD reads besides context files — URLs downloaded and git
// repositories cloned — fetched before its cache key is computed, so the key
// covers their content (`digest`).
struct AddInputs {
    struct Fetched {
        std::string source;         // as written
        std::filesystem::path dir;  // holds the download (one file) or the clone
        std::string file;           // the download's name in `dir`, "" for a clone
    };
    std::vector<Fetched> fetched;
    std::vector<std::string> context_sources;  // the other sources, from the context
    content::Digest digest;                    // of what was fetched
};

AddInputs prepare_add(const frontend::CopySpec& spec, const std::filesystem::path& work_dir,
                      const CancelFlag* cancel = nullptr);

// ADD: context files and directories as COPY copies them, local archives
// extracted (unless --unpack=false), downloads as files (0600), clones as
// directory contents; all written into `rootfs` as run_copy writes (archives
// are extracted into a scratch directory under `work_dir` first, then copied).
void run_add(const frontend::CopySpec& spec, const AddInputs& inputs, const BuildContext& context,
             const std::filesystem::path& rootfs, const std::filesystem::path& work_dir);

}  // namespace kiln::solver
