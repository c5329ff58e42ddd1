// `kiln load`: images from an OCI layout tar or a docker-archive tar (as
// `docker save`, `podman save`, `skopeo copy ... docker-archive:` and kiln's own
// outputs write them) into the local store.
//
// Contract: the archive is read once, streaming; every blob is verified
// against its digest before it is named, and every layer against the diffID
// its config lists. Layers are stored uncompressed (named by diffID), as all
// layers in the store are, so an imported image gets a new manifest (OCI,
// uncompressed layers) while its config — and so its image ID — is kept.
// Names are set only after everything every image of the archive needs is in
// the store, so a load that fails names nothing.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "content/oci.h"
#include "content/state_root.h"
#include "registry/platform.h"

namespace kiln::exporter {

struct ImportedImage {
    std::vector<std::string> names;  // as set in the store
    content::Descriptor manifest;
};

// One image of an OCI image layout directory (--build-context
// NAME=oci-layout://DIR[:TAG|@DIGEST]) into the store, unnamed: `reference` is
// a tag (index.json's org.opencontainers.image.ref.name), a digest
// ("sha256:..."), or "" when index.json names one image; an index picks
// `platform`'s entry (else its first). Only the blobs that image needs are
// read, each verified, its layers stored uncompressed and checked against
// the config's diffIDs. Returns the manifest's descriptor. Throws kiln::Error
// naming the layout.
content::Descriptor import_layout_image(const content::StateRoot& root,
                                        const std::filesystem::path& layout,
                                        const std::string& reference,
                                        const registry::PlatformSpec& platform);

// `names` replaces the archive's own names when not empty (for one image).
// Throws kiln::Error naming the archive and what is wrong with it.
std::vector<ImportedImage> import_archive(const content::StateRoot& root,
                                          const std::filesystem::path& archive,
                                          const std::vector<std::string>& names);

}  // namespace kiln::exporter
