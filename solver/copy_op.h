// COPY from the build context into a stage.
//
// Contract: the files a COPY adds are written to `layer_dir` (the step's
// diff: the copied entries plus their parent directories, with the parents'
// metadata as the stage's rootfs has them) and then merged into `rootfs`.
// Sources follow the Dockerfile reference: a directory's contents are copied,
// not the directory; a file goes into `dest` when dest is a directory (trailing
// "/", several sources, or an existing directory) and becomes `dest`
// otherwise. `layer_dir` may be `rootfs` itself: on an overlay snapshot the
// upper directory then records the changes, with nothing copied twice.
// Owners are 0:0 unless --chown; modes and mtimes are kept;
// symlinks are copied as symlinks; files hard-linked to each other stay so.
//
// Flags: --chmod (ChmodSpec, applied to every copied entry, directories included);
// --exclude patterns (.dockerignore syntax) matched against each path below a
// source, relative to that source (the source itself is never excluded); --parents
// keeps each source's context path under dest (dest is then always a directory),
// or only the part after a "/./" pivot in the source, the kept parent directories
// copied with their context metadata. --link needs nothing here.
#pragma once

#include <filesystem>

#include "frontend/build_plan.h"
#include "solver/build_context.h"
#include "solver/file_copy.h"

namespace kiln::solver {

void run_copy(const frontend::CopySpec& spec, const BuildContext& context,
              const std::filesystem::path& rootfs, const std::filesystem::path& layer_dir);

// Creates `path` (absolute in the image) and its missing parents as 0755
// root-owned directories in `layer_dir`, with existing parents' metadata taken
// from `rootfs`, then merges into `rootfs`. Returns false when `path` already
// existed in rootfs (nothing to add).
bool run_mkdir(const std::string& path, const std::filesystem::path& rootfs,
               const std::filesystem::path& layer_dir);

// "uid[:gid]" or "user[:group]" resolved against rootfs's /etc/passwd and
// /etc/group. Throws kiln::Error for unknown names.
Owner parse_chown(const std::string& spec, const std::filesystem::path& rootfs);

// A --chmod value, octal ("755", "04755") or symbolic ("u+x", "u=rwX,go=rX"); see
// ChmodSpec (solver/file_copy.h): it is applied to each copied entry's own mode.
// Throws kiln::Error for anything else.
ChmodSpec parse_chmod(const std::string& spec);

}  // namespace kiln::solver
