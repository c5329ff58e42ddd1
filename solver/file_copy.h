// Copying file-system entries with their metadata, the primitive under COPY
// and under the native (copying) snapshots.
//
// Contract: copy_entry() copies one entry (regular file, directory — without
// its children —, symlink) from `src` to `dst`, replacing a non-directory at
// `dst`; an existing directory at `dst` is kept with its own metadata unless
// `update_dir` is set. Symlinks are never followed. Owners are set to
// `owner` when given, else kept; modes and mtimes are kept. Regular file
// contents are streamed (copy_file_range), never held in memory.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <utility>

namespace kiln::solver {

struct Owner {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct CopyOptions {
    std::optional<Owner> owner;
    std::optional<mode_t> mode;  // permission bits to force (COPY --chmod)
    bool update_dir = false;
    // Hard-link regular files instead of copying them where both trees are
    // on one filesystem (they then share the inode, so neither may be
    // modified in place afterwards); copy elsewhere.
    bool link_files = false;
};

// Copying that keeps every piece of metadata, updating existing directories
// too: used to merge one tree into another.
inline CopyOptions merge_options(bool link_files) {
    CopyOptions o;
    o.update_dir = true;
    o.link_files = link_files;
    return o;
}

// Remembers inodes already copied so that files linked to each other in the
// source stay linked in the destination.
using LinkMap = std::map<std::pair<dev_t, ino_t>, std::filesystem::path>;

void copy_entry(const std::filesystem::path& src, const struct stat& st,
                const std::filesystem::path& dst, const CopyOptions& options, LinkMap* links);

// Copies `src` and everything below it to `dst` (cp -a semantics, merging
// into existing directories).
void copy_tree(const std::filesystem::path& src, const std::filesystem::path& dst,
               const CopyOptions& options);

}  // namespace kiln::solver
