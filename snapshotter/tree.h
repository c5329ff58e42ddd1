// Directory-tree operations behind the snapshotters (internal to snapshotter/).
//
// Every walk is fd-relative and never follows a symlink; none descends into
// another filesystem (a directory whose st_dev differs from its parent's is
// left alone and reported), so a leftover mount is never walked into.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "base/xattr.h"

namespace kiln::snapshotter::tree {

using Xattrs = kiln::Xattrs;

bool is_root_user();
bool is_whiteout(const struct stat& st);
// trusted.overlay.opaque (or user.overlay.opaque) is "y".
bool is_opaque(int parent_fd, const std::string& name);
void set_opaque(int dir_fd, const std::string& what);
// Sorted xattrs, overlay's own (trusted.overlay.*, user.overlay.*) left out.
Xattrs read_xattrs(int parent_fd, const std::string& name, const std::string& what);

UniqueFd open_dir(const std::filesystem::path& p);
UniqueFd open_subdir(int parent_fd, const std::string& name, const std::string& what);

// Removes `name` below parent_fd with everything in it.
void remove_at(int parent_fd, const std::string& name, const std::string& what);
// Removes the tree at `p`; does nothing when it is missing.
void remove_tree(const std::filesystem::path& p);
// The same, never throwing (destructors).
void remove_tree_quiet(const std::filesystem::path& p) noexcept;

// Merges the overlay-form layer at src_fd onto dst_fd (whiteouts remove,
// opaque directories replace). `link` hard-links regular files instead of
// copying them (only for trees never written through). `into_empty`: dst_fd
// is known to be empty (nothing to replace: no stat per entry).
void merge_layer(int src_fd, int dst_fd, bool link, const std::string& what,
                 bool into_empty = false);
// Copies a tree as it is (char devices 0/0 included).
void copy_tree(int src_fd, int dst_fd, const std::string& what);

// What prepare() saw of the merged tree, by inode number: the ctime (any
// change since bumps it) and the birth time where the filesystem keeps one
// (an inode number reused by a new file or directory has a new one).
struct Seen {
    struct timespec ctime {};
    struct timespec btime {};
    bool has_btime = false;
};
using InodeTimes = std::unordered_map<ino_t, Seen>;
InodeTimes record_inodes(int dir_fd, const std::string& what);

// Writes the changes of `work` against `base` into the empty `out`, overlay form.
// Returns whether anything changed.
bool diff_trees(int base_fd, int work_fd, int out_fd, const InodeTimes& seen,
                const std::string& what);

}  // namespace kiln::snapshotter::tree
