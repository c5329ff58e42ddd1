// Unpacking a layer tar onto a directory: the one place kiln trusts no tar.
//
// Contract of apply_layer():
//  - Nothing is ever created, changed or removed outside `root`: entries with
//    ".." components or absolute paths are refused, and no path is resolved
//    through a symlink (a symlink in the tree that points anywhere — inside or
//    out — is never followed while unpacking; an entry below one is refused).
//    Hard links must point at an entry inside `root`.
//  - OCI layer semantics: ".wh.NAME" removes NAME, ".wh..wh..opq" empties the
//    directory it is in (of what lower layers put there), both are consumed
//    and never written.
//  - Regular files, directories, symlinks, hard links, device nodes and fifos
//    (where permitted), modes incl. setuid/setgid/sticky, numeric owners
//    (when running as root), xattrs, mtimes.
//  - Compression (none, gzip, zstd) is detected from the stream.
//  - Errors throw kiln::Error naming `source` and the entry.
//  - A layer whose entries add up to more than kiln::max_layer_size() bytes
//    (base/limits.h, --max-layer-size) stops with an Error.
//  - With ApplyOptions::overlay_whiteouts (for snapshots, which hold one
//    layer's changes in overlayfs's own form): ".wh.NAME" becomes a 0/0
//    character device NAME (or, when this layer itself puts a directory at
//    NAME, that directory is marked opaque), ".wh..wh..opq" marks its
//    directory opaque (xattr trusted.overlay.opaque=y; user.overlay.opaque=y
//    when unprivileged), and overlay's own xattrs (trusted.overlay.*,
//    user.overlay.*) in the tar are dropped, never set.
//  - Other ApplyOptions serve ADD (a tar that is not a layer): `whiteouts`
//    false keeps ".wh." entries as ordinary files, `owner` overrides every
//    entry's owner (and that of parent directories created on the way),
//    `best_effort_xattrs` skips xattrs that cannot be set, and `kind` names
//    the source in messages ("ADD <archive>: entry ...").
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace kiln::snapshotter {

// Reads up to `size` bytes into buf; returns 0 at end of stream.
using ReadFn = std::function<std::size_t(void* buf, std::size_t size)>;

struct ApplyStats {
    std::size_t entries = 0;
    std::size_t whiteouts = 0;
};

struct ApplyOptions {
    bool overlay_whiteouts = false;
    // false: ".wh." names are ordinary entries, written as they are.
    bool whiteouts = true;
    // Set: every entry (and every parent directory created for one) gets this
    // owner instead of the tar's (applied only when running as root).
    std::optional<std::pair<uid_t, gid_t>> owner;
    // true: xattrs that cannot be set are skipped, whatever the error.
    bool best_effort_xattrs = false;
    // Starts every error message, before `source`.
    std::string kind = "layer";
    // true: a character or block device is an error (outputs written where the user
    // reads them, such as -o type=local); fifos are still made.
    bool refuse_devices = false;
};

ApplyStats apply_layer(const ReadFn& read, const std::filesystem::path& root,
                       const std::string& source, const ApplyOptions& options = {});

}  // namespace kiln::snapshotter
