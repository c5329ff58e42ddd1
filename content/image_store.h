// Names → image descriptors, kept in the state root's index.json as the
// `org.opencontainers.image.ref.name` annotation, so skopeo and umoci read
// kiln's store as any OCI layout (`oci:ROOT:NAME`).
//
// Invariants: index.json is only rewritten under locks/index.lock, atomically;
// a name is added only after every blob its manifest names is in the store.
// Names are stored normalised (see normalize_name), one descriptor per name: a
// manifest, or an index of one manifest per platform (a multi-platform build's,
// or the platforms pulled under the name).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "content/oci.h"
#include "content/state_root.h"

namespace kiln::content {

// A name as Docker reads it (base/reference.h), in its familiar form: "app" →
// "app:latest"; Docker Hub's long forms are shortened ("docker.io/library/app:1",
// "library/app:1" → "app:1"); a tag and a digest are both kept. A name Docker cannot
// parse but an OCI layout can hold (upper case, '+') is kept as given, with ":latest"
// when it has no tag. Throws kiln::Error for names an OCI layout cannot hold.
std::string normalize_name(const std::string& name);

struct NamedImage {
    std::string name;
    Descriptor descriptor;  // of the manifest (or index)
};

// An image as the store holds it: its manifest and config, both read
// verified. Throws kiln::Error for a missing or corrupt blob, or a manifest
// media type kiln cannot read (an index, schema 1).
struct StoredImage {
    Descriptor descriptor;  // of the manifest
    Manifest manifest;
    ImageConfig config;
};
StoredImage read_image(const BlobStore& blobs, const Descriptor& manifest);

// Whether `d` is an image index (or Docker manifest list): one image per
// platform, each entry carrying its platform. A multi-platform build names one.
bool is_index(const Descriptor& d);
// An index the store holds, read verified. Throws kiln::Error as read_image.
Index read_index(const BlobStore& blobs, const Descriptor& index);

class ImageStore {
  public:
    explicit ImageStore(const StateRoot& root) : root_(root) {}

    std::optional<Descriptor> get(const std::string& name) const;
    std::vector<NamedImage> list() const;
    // Adds or replaces `name`.
    void set(const std::string& name, Descriptor manifest);
    // Names `manifest`, an image for `platform` (a pull's), without dropping
    // the other platforms `name` holds: when it names an image (or index) for
    // other platforms, it then names an index the store writes, holding those
    // and this one (an entry for the same platform is replaced). Otherwise as
    // set().
    void set_platform(const std::string& name, Descriptor manifest, const Platform& platform);
    // Returns false when no such name.
    bool remove(const std::string& name);

  private:
    Index read_index() const;
    void write_index(const Index& index);
    const StateRoot& root_;
};

}  // namespace kiln::content
