// COPY from the build context into a stage.
//
// Contract: the files a COPY adds are written straight into `rootfs` (the
// step's snapshot, whose upper directory records the changes), every path in
// it resolved by the in-root resolver (base/root_dir.h): the destination is
// followed through links as the container sees them, its last component
// included (BuildKit's fs.RootPath: `COPY f /bin/f` on a merged-/usr image
// writes /usr/bin/f); below it, nothing is followed (a directory meeting a
// link or file is "cannot copy to non-directory", a file replaces a link).
// Nothing outside `rootfs` is ever written, whatever links it holds.
// Sources follow the Dockerfile reference: a directory's contents are copied,
// not the directory; a file goes into `dest` when dest is a directory (trailing
// "/", several sources, or an existing directory) and becomes `dest`
// otherwise. Missing directories on the way are 0755 and owned by the --chown
// owner.
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

#include "base/root_dir.h"
#include "frontend/build_plan.h"
#include "solver/build_context.h"
#include "solver/copy_journal.h"
#include "solver/file_copy.h"

namespace kiln::solver {

// `journal` (optional, solver/copy_journal.h) records what the copy makes, or
// (a CopyRebaser) makes it again over the previous result; a rebaser refuses
// with NotIncremental what it cannot promise to make exactly.
void run_copy(const frontend::CopySpec& spec, const BuildContext& context,
              const std::filesystem::path& rootfs, CopyRecorder* journal = nullptr);

// WORKDIR: creates `path` (absolute in the image, links followed in the root)
// and its missing parents as 0755 directories owned by `owner` (the USER in
// effect, as BuildKit's Mkdir WithUser). Returns false when `path` already
// was a directory (nothing to add).
bool run_mkdir(const std::string& path, const std::filesystem::path& rootfs, Owner owner = {});

// "uid[:gid]" or "user[:group]" resolved against the image's /etc/passwd and
// /etc/group, read inside the root (links followed there, never to the
// host's). Throws kiln::Error for unknown names.
Owner parse_chown(const std::string& spec, const std::filesystem::path& rootfs);
Owner parse_chown(const std::string& spec, const RootDir& root);

// A --chmod value, octal ("755", "04755") or symbolic ("u+x", "u=rwX,go=rX"); see
// ChmodSpec (solver/file_copy.h): it is applied to each copied entry's own mode.
// Throws kiln::Error for anything else.
ChmodSpec parse_chmod(const std::string& spec);

}  // namespace kiln::solver
