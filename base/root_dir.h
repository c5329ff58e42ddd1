// Paths inside an image root: the one resolver (../shared/DESIGN.md, "Paths
// inside an image root").
//
// An image root is a host directory whose contents strangers control: a
// snapshot being built, a stage's view, a base image's layers. A build runs
// as root, so a name inside such a tree is never handed to a path-based call
// that could follow a link out of it (CVE-2018-15664, CVE-2019-14271).
//
// Contract:
//  - Names resolve component by component from a directory fd, the way the
//    container would see them: an absolute link target starts again at the
//    root (never the host's /), ".." at the root stays at the root, and at most
//    40 links are followed in one resolution (as Linux; then "too many levels
//    of symbolic links").
//  - Every step is openat(..., O_NOFOLLOW) relative to the fd of the step
//    before, so no link is ever followed by the kernel; results carry fds, so
//    what the caller then does (openat, mkdirat, fchownat, renameat, unlinkat)
//    acts on the directory that was resolved.
//  - Something that is not a directory where one is needed is an Error naming
//    the in-root path ("/bin/sh is not a directory"); nothing is created then.
//  - "." components are ignored; a path ending in "/" or "/." names a
//    directory (its last link is followed, and a non-directory there is an
//    Error), as the kernel reads it. So does a last link whose target ends so.
//  - open_read() uses openat2(RESOLVE_IN_ROOT) where the kernel has it; the
//    walk gives the same answers elsewhere (tests and the fuzz target compare
//    the two).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace kiln {

// Whether the last component is followed when it is a symlink.
enum class Follow { all, not_last };

// Where a path landed inside a root.
struct InRoot {
    // The clean absolute in-root path after following links ("/usr/bin/f").
    // Components past a missing directory are kept as written (cleaned).
    std::string path;
    // O_PATH fd of the directory holding `name`; the root itself when `path`
    // is "/". Invalid when a directory on the way is missing.
    UniqueFd dir;
    // The last component; "" when `path` is "/".
    std::string name;
    bool exists = false;
    struct stat st {};  // lstat of the entry, when it exists
    bool is_dir() const { return exists && S_ISDIR(st.st_mode); }
};

class RootDir {
  public:
    // Opens `dir` (a host path kiln chose; it may not be a symlink).
    explicit RootDir(const std::filesystem::path& dir);

    int fd() const { return fd_.get(); }
    // For messages only: never join a name onto it.
    const std::filesystem::path& host_path() const { return host_; }

    InRoot resolve(std::string_view path, Follow follow = Follow::all) const;

    // "mkdir -p" inside the root, links followed: every directory that
    // `path` names is created where missing (with `mode`), and `made` is
    // called with an O_RDONLY fd of each new one and its in-root path, to
    // set its owner or metadata. Returns the final directory, O_RDONLY.
    UniqueFd mkdir_all(std::string_view path, mode_t mode,
                       const std::function<void(int fd, const std::string& path)>& made = {}) const;

    // Opens `path` with `flags` (O_RDONLY and the like; O_CLOEXEC is
    // added), every link followed in the root. An invalid fd when
    // the entry is missing; throws on other errors.
    UniqueFd open(std::string_view path, int flags) const;

    // A regular file's bytes (links followed in the root); nothing when it
    // is missing. Throws when it is not a regular file or exceeds `limit`.
    std::optional<std::string> read_file(std::string_view path,
                                         std::size_t limit = std::size_t{16} << 20) const;

  private:
    InRoot walk(std::string_view path, Follow follow, const mode_t* create,
                const std::function<void(int, const std::string&)>* made) const;

    UniqueFd fd_;
    std::filesystem::path host_;
};

// Opens `rel` ("a/b/c", no ".." and no leading "/") below dir_fd when every
// directory on the way is a real directory, never a link; the final
// component is opened with `flags` | O_NOFOLLOW. For trees kiln is writing
// itself (a hard link's first copy). Throws naming `rel`.
UniqueFd open_beneath(int dir_fd, std::string_view rel, int flags);

// Whether the running kernel has openat2(2).
bool have_openat2();

// openat2(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); -1 with
// errno on failure (ENOSYS where the kernel lacks it).
int openat2_in_root(int root_fd, const char* path, int flags);

}  // namespace kiln
