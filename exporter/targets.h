// Output targets: where a committed image goes.
//
// Contract, for every target: a destination either receives the complete
// result or is left as it was. Files are written to a temp name beside the
// destination and renamed into place; directories are assembled beside the
// destination and moved in only when complete. Every blob copied out of the
// store is verified against its digest on the way.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "content/state_root.h"
#include "exporter/image_commit.h"
#include "exporter/output_spec.h"
#include "registry/push.h"

namespace kiln::exporter {

struct ExportResult {
    ExportResult(content::Digest manifest, std::string what,
                 std::optional<content::Descriptor> registry_has = std::nullopt)
        : manifest_digest(std::move(manifest)),
          description(std::move(what)),
          pushed(std::move(registry_has)) {}
    content::Digest manifest_digest;  // of the manifest as written to the target
    std::string description;          // "exported to oci:out.tar", for the user
    // After a push: the manifest (or index) as the registry has it.
    std::optional<content::Descriptor> pushed;
};

// Dispatches on spec.type. `names` are the -t names (plus any name= attr).
// `push` configures registry access for type=registry.
ExportResult export_output(const content::StateRoot& root, const CommittedImage& image,
                           const OutputSpec& spec, const std::vector<std::string>& names,
                           const registry::PushOptions& push = {});

// type=image: names the image in the state root's store.
ExportResult export_to_store(const content::StateRoot& root, const CommittedImage& image,
                             const std::vector<std::string>& names);
// type=oci: an OCI layout, as a directory or (dest ending in .tar) a tar file.
ExportResult export_oci(const content::StateRoot& root, const CommittedImage& image,
                        const OutputSpec& spec, const std::vector<std::string>& names);
// type=docker: a docker-archive tar (manifest.json, loadable by docker/podman load)
// that is also an OCI layout.
ExportResult export_docker(const content::StateRoot& root, const CommittedImage& image,
                           const OutputSpec& spec, const std::vector<std::string>& names);
// type=registry (and `--push`, `kiln push`): the image in registry form —
// compressed layers (content/layer_twins.h reuses a pulled base's own
// blobs), OCI or Docker media types per oci-mediatypes= — put in the store,
// then pushed to every name (push-by-digest=true: by digest, no tag). An
// image that is already in registry form (a pulled one) goes as it is, so
// its digest does not change.
ExportResult export_registry(const content::StateRoot& root, const CommittedImage& image,
                             const OutputSpec& spec, const std::vector<std::string>& names,
                             const registry::PushOptions& push);

// type=local: the image's root file system, unpacked into a directory.
ExportResult export_local(const content::StateRoot& root, const CommittedImage& image,
                          const OutputSpec& spec);

// type=tar (and `-o -`): the image's root file system as one tar, at dest or
// ("-") on standard output; device nodes are left out, as type=local does.
ExportResult export_tar(const content::StateRoot& root, const CommittedImage& image,
                        const OutputSpec& spec);

// A multi-platform result (one image per platform under an index) to one
// output, as buildx writes it: type=image names the index (and, with
// push=true, pushes it); type=oci writes every platform's image and the
// index, which index.json names; type=registry pushes each platform's image,
// then the index; type=local gives each platform a directory of its own
// (DEST/linux_arm64, ...), as does type=tar inside its archive. type=docker
// cannot hold an index: kiln::Error.
ExportResult export_index_output(const content::StateRoot& root, const CommittedIndex& index,
                                 const OutputSpec& spec, const std::vector<std::string>& names,
                                 const registry::PushOptions& push = {});
// The halves of export_index_output for type=oci, type=registry, type=local.
ExportResult export_oci_index(const content::StateRoot& root, const CommittedIndex& index,
                              const OutputSpec& spec, const std::vector<std::string>& names);
ExportResult export_registry_index(const content::StateRoot& root, const CommittedIndex& index,
                                   const OutputSpec& spec, const std::vector<std::string>& names,
                                   const registry::PushOptions& push);
ExportResult export_local_platforms(const content::StateRoot& root, const CommittedIndex& index,
                                    const OutputSpec& spec);
ExportResult export_tar_platforms(const content::StateRoot& root, const CommittedIndex& index,
                                  const OutputSpec& spec);

}  // namespace kiln::exporter
