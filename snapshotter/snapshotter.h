// Snapshots: the filesystem trees RUN and COPY work in, and the layers they become.
//
// Contract:
//  - A committed snapshot is an immutable directory named by a key (any
//    string: a chain ID, a cache key). It lives at
//    <root>/<kind>/<sha256-hex of the key>/fs with its metadata (key, parent
//    keys, source) in meta.json beside fs. It holds one layer's changes only.
//  - Its on-disk form is overlay-ready for both kinds: a deletion is a 0/0
//    character device, a directory that hides what lower layers had there
//    carries the xattr trusted.overlay.opaque=y (user.overlay.opaque=y when
//    not running as root, where trusted.* cannot be set).
//  - Snapshots appear under their key complete or not at all: they are built
//    under <root>/<kind>/tmp and renamed into place; apply and commit are
//    serialised per key with a file lock (<root>/<kind>/locks), so several
//    processes never unpack the same layer twice.
//  - Actives and views are RAII: their destructor unmounts (lazily when busy)
//    and removes them. Nothing is ever removed across a mount point.
//  - overlayfs: mount(2) with lowerdir (parents top → bottom), upperdir and
//    workdir in the active's directory, with index=off, redirect_dir=off and
//    metacopy=off so the upper directory is always a complete layer diff, and
//    writable ones `volatile` (no syncfs when unmounted; published snapshots
//    are synced in the background instead, and before the process ends:
//    flusher.h). The
//    lower directories are named through short symlinks (l/0, l/1, ...) inside
//    the active's directory, and the mount is made from a thread that has its
//    own working directory (unshare(CLONE_FS)), so the option string stays
//    short (about 5 bytes a layer) without chdir'ing the whole process. Should
//    it still exceed the kernel's one-page limit, prepare/view throw an Error
//    saying so.
//  - native: prepare copies the parents, merged, into a fresh directory (file
//    contents copied, never shared: RUN may write in place) and links a second,
//    read-only merged tree beside it; commit diffs the two (type, mode, owner,
//    size, mtime, rdev, symlink target, xattrs, and content when a file's
//    inode or ctime shows it may have been touched) into the overlay form.
//  - Errors are kiln::Error naming the key, path or layer at fault.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snapshotter/layer_apply.h"

namespace kiln::snapshotter {

// A writable snapshot being prepared, or a read-only view.
class Active {
  public:
    virtual ~Active();
    // The merged tree (writable for prepare, meant to be read for view).
    virtual const std::filesystem::path& root() const = 0;
    // The changes only, overlay form. overlayfs: the upper directory (live);
    // native: computed by diffing now (each call recomputes). Empty for views.
    virtual std::filesystem::path upper() const = 0;
};

class Snapshotter {
  public:
    virtual ~Snapshotter();
    virtual std::string kind() const = 0;  // "overlayfs" | "native"
    virtual bool exists(const std::string& key) const = 0;
    // A new writable snapshot over committed parents listed bottom → top.
    virtual std::unique_ptr<Active> prepare(const std::vector<std::string>& parents) = 0;
    // Makes the active snapshot's changes the committed snapshot `key`
    // (atomic; if `key` exists already, the existing one is kept). Unmounts
    // `active`, whose root() is gone afterwards. `note` (any text) is kept
    // with the snapshot and read back by note(); `source` (the layer's
    // diffID, as apply's) goes into meta.json, where the collector reads it.
    virtual void commit(Active& active, const std::string& key, const std::string& note = "",
                        const std::string& source = "") = 0;
    // The note `key` was committed with; nullopt when none (or no such snapshot).
    virtual std::optional<std::string> note(const std::string& key) const = 0;
    // A writable copy of the committed snapshot `key`'s own tree (one layer,
    // overlay form; not merged with its parents), no mount: directories are
    // copied, regular files hard-linked, so a file in it must be replaced,
    // never written in place. root() and upper() are that tree; commit() makes
    // it another snapshot. For incremental steps (solver/copy_journal.h).
    virtual std::unique_ptr<Active> edit(const std::string& key) = 0;
    // Unpacks a layer (tar, any compression) as the committed snapshot `key`
    // under the rules of apply_layer(), whiteouts converted to overlay form.
    // Does nothing (and reads nothing) when `key` exists already. The
    // snapshot is published only after `read` returned 0 (the stream is read
    // to its end, past the tar's), so a reader that throws at its end
    // publishes nothing.
    virtual void apply(const std::string& key, const ReadFn& read, const std::string& source) = 0;
    // The committed tree of `key`; throws when there is none.
    virtual std::filesystem::path path(const std::string& key) const = 0;
    // Removes `key` (atomically: renamed away first). No error when missing.
    virtual void remove(const std::string& key) = 0;
    // A read-only merged view of parents (bottom → top): overlayfs mounts it
    // read-only, native materialises a copy.
    virtual std::unique_ptr<Active> view(const std::vector<std::string>& parents) = 0;
};

// kind: "auto" (overlayfs when a test mount under `root` succeeds, else
// native), "overlayfs" or "native". `root` is created when missing.
// `tmp_dir` is accepted for scratch space of the caller's choosing, but the
// snapshotter keeps its own temporaries under <root>/<kind>/tmp so that
// renames into place never cross a filesystem.
std::unique_ptr<Snapshotter> open_snapshotter(const std::filesystem::path& root,
                                              const std::string& kind,
                                              const std::filesystem::path& tmp_dir);

// Whether an overlay mount works under `dir` (the probe "auto" uses).
bool overlay_supported(const std::filesystem::path& dir);

}  // namespace kiln::snapshotter
