// Layers: a directory tree in, an OCI layer blob out.
//
// Contract of write_layer():
//  - The tar is PAX (extended headers only where ustar cannot say it), entries
//    in byte-wise sorted path order ("./"-less relative paths, directories with
//    a trailing "/"), numeric uid/gid with empty user/group names, exact modes
//    (incl. setuid/setgid/sticky), symlinks as symlinks, files with several
//    links inside the tree as one file plus hard-link entries, xattrs as
//    SCHILY.xattr records, mtimes in whole seconds clamped to
//    SOURCE_DATE_EPOCH when given; no atime/ctime. The root directory itself is
//    not an entry.
//  - One streaming pass: tar bytes are hashed (diffID), compressed, hashed
//    again (digest) and written to the blob store's temp file; memory does not
//    grow with the size of the layer.
//  - Equal trees and options give byte-identical blobs.
#pragma once

#include <sys/stat.h>
#include <cstdint>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "content/blob_store.h"
#include "content/digest.h"
#include "exporter/compression.h"

namespace kiln::exporter {

struct LayerOptions {
    CompressionOptions compression;
    std::optional<std::int64_t> source_date_epoch;
    // `dir` is an overlay-form diff (a snapshot's upper directory): a 0/0
    // character device NAME becomes an empty ".wh.NAME" file entry (mode 0,
    // owner 0:0), and a directory with trusted.overlay.opaque=y (or
    // user.overlay.opaque=y) gets a ".wh..wh..opq" entry in it, both in sorted
    // position with the mtime of the device or directory, clamped like the rest.
    bool overlay_whiteouts = false;
    // Asked for each directory that is empty in `dir` (path relative, no
    // trailing "/"): true leaves it out of the layer. For an overlay upper,
    // a directory copied up only because something was created and removed
    // in it (a runtime's mount stubs) is no change and so no entry.
    std::function<bool(const std::string& rel, const struct stat& st)> omit_empty_dir;
    // An incremental step (solver/copy_journal.h): `previous`, an uncompressed
    // layer in `previous_store` made from an earlier version of this tree, and
    // the regular files (paths relative, no leading "/") known to be the very
    // files that layer holds. Such a file's entry is copied from `previous`
    // when that entry's header says the same path, size, mode, owner and mtime
    // and no xattrs; the blob's bytes are the same either way.
    const content::BlobStore* previous_store = nullptr;
    std::optional<content::Digest> previous;
    std::function<bool(const std::string& rel)> unchanged;
};

struct LayerBlob {
    content::Digest diff_id;  // SHA-256 of the uncompressed tar
    content::Digest digest;   // SHA-256 of the blob as stored (== diff_id when uncompressed)
    std::int64_t size = 0;    // of the blob as stored
    Compression compression = Compression::none;
};

// Writes `dir` as a layer into `store`. Throws kiln::Error naming the path
// that could not be read.
LayerBlob write_layer(const std::filesystem::path& dir, const content::BlobStore& store,
                      const LayerOptions& options);

// The same tar as write_layer() (compressed per options.compression), into
// `out` instead of a blob store: a root file system as one archive (-o
// type=tar). Returns the diffID.
content::Digest write_tree(const std::filesystem::path& dir, const Sink& out,
                           const LayerOptions& options);

// Compresses the uncompressed layer `diff_id` held in `from` into `to`,
// verifying the source while reading it. `also`, when set, sees the
// compressed bytes as they are made (a push streams them out).
LayerBlob compress_layer(const content::BlobStore& from, const content::Digest& diff_id,
                         const content::BlobStore& to, const CompressionOptions& options,
                         const Sink& also = {});

// The OCI (or Docker schema2) media type for a layer with this compression.
std::string layer_media_type(Compression c, bool oci);

}  // namespace kiln::exporter
