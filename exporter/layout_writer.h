// Writes one image into an OCI layout directory being assembled for an
// output: blobs copied (verified) from the store, layers compressed as asked,
// manifest in OCI or Docker media types, and index.json naming it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "content/oci.h"
#include "content/state_root.h"
#include "exporter/compression.h"
#include "exporter/image_commit.h"

namespace kiln::exporter {

struct LayoutImage {
    content::Descriptor manifest;  // as written into the layout
    content::Manifest manifest_obj;
    std::vector<content::Descriptor> layers;
};

// index.json's entry carries the image's descriptor annotations, then
// `index_annotations` (the names).
LayoutImage write_layout(const content::StateRoot& root, const CommittedImage& image,
                         const std::filesystem::path& layout_dir,
                         const CompressionOptions& compression, bool oci_media_types,
                         const std::map<std::string, std::string>& index_annotations);

// A multi-platform layout: each image's blobs and manifest (with its
// platform and descriptor annotations), an image index over them (with the
// index's annotations), and index.json naming that index with its
// descriptor's annotations and `index_annotations` (as BuildKit's OCI
// exporter writes one). Returns the index's descriptor.
content::Descriptor write_layout_index(const content::StateRoot& root, const CommittedIndex& index,
                                       const std::filesystem::path& layout_dir,
                                       const CompressionOptions& compression, bool oci_media_types,
                                       const std::map<std::string, std::string>& index_annotations);

// Copies `digest` from the store into `dir`'s blobs, verifying it.
void copy_blob(const content::StateRoot& root, const content::Digest& digest,
               const std::filesystem::path& dir);

// Moves a finished directory `from` to `dest`: renamed when dest is missing or
// empty, otherwise merged entry by entry (files replaced, directories merged).
void move_into_place(const std::filesystem::path& from, const std::filesystem::path& dest);

// Throws kiln::Error when `dest`'s directory is missing or not writable, so
// an output fails before the work, not after.
void check_parent_writable(const std::filesystem::path& dest);

// The tag of an image name, read by the reference parser ("latest" when it has none).
std::string tag_of(const std::string& name);

}  // namespace kiln::exporter
