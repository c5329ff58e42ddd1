// A build's outputs (buildx's -o, --push, -t): checked before any step runs,
// then each written from the committed image.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/progress.h"
#include "content/digest.h"
#include "content/state_root.h"
#include "exporter/image_commit.h"
#include "exporter/output_spec.h"
#include "registry/client.h"

namespace kiln::build {

// Parses the -o specs (none = type=image) and applies --push: image outputs
// also push (buildx's push=true), and with none an image also goes to the
// registry. Throws kiln::Error for a bad spec or name, or a push with no name.
std::vector<exporter::OutputSpec> plan_outputs(const std::vector<std::string>& specs,
                                               const std::vector<std::string>& tags, bool push);

// Writes the image to every output, one progress vertex each; returns the
// manifest as a registry has it after a push.
std::optional<content::Descriptor> export_outputs(const content::StateRoot& root,
                                                  const exporter::CommittedImage& image,
                                                  const std::vector<exporter::OutputSpec>& outputs,
                                                  const std::vector<std::string>& tags,
                                                  const registry::ClientOptions& client,
                                                  Progress& progress);
// The same for a multi-platform build's index (exporter::export_index_output).
std::optional<content::Descriptor> export_index_outputs(
    const content::StateRoot& root, const exporter::CommittedIndex& index,
    const std::vector<exporter::OutputSpec>& outputs, const std::vector<std::string>& tags,
    const registry::ClientOptions& client, Progress& progress);

}  // namespace kiln::build
