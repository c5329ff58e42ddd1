// The commands besides `build` that need the engine's parts (exporter,
// frontend): `kiln load`, `kiln push`, `kiln debug dump-ast`. Library calls:
// nothing here prints.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "content/state_root.h"
#include "gc/lease.h"
#include "registry/client.h"
#include "registry/pull.h"

namespace kiln::build {

struct LoadedImage {
    std::vector<std::string> names;  // as set in the store; empty when the archive named none
    std::string digest;              // the manifest's
};

// Loads every image of an OCI layout tar or docker-archive tar into the store
// at `state_root`; `tags`, when given, replace the archive's names. Tags are
// checked before anything is read or written.
std::vector<LoadedImage> load_archive(const std::filesystem::path& state_root,
                                      const std::string& input,
                                      const std::vector<std::string>& tags);

// `kiln pull`: registry::pull_image() into the state root, each layer also
// unpacked into its snapshot while it downloads (as a build's pull, and as
// `docker pull` does), so the first build over it unpacks nothing.
registry::PullResult pull_image(const content::StateRoot& root, const Reference& ref,
                                registry::PullOptions options);

// Pushes `name` from the store to `dest` ("" = `name`); returns the one-line
// description of what was pushed. The destination is checked before the store
// is opened.
std::string push_image(const std::filesystem::path& state_root, const std::string& name,
                       const std::string& dest, const registry::ClientOptions& client,
                       const std::function<void(const std::string&)>& log);

// What every command that writes to `root` starts with: the collector's
// shared lease (gc/lease.h; waits while a prune runs), held until the returned
// value goes, then the recovery pass (snapshotter/recovery.h), which
// reclaims what dead kiln processes left and never throws.
[[nodiscard]] gc::Lease begin_writing(const content::StateRoot& root);

// A Dockerfile's parse in the format of BuildKit's parser tests.
std::string dump_ast(const std::string& file);

}  // namespace kiln::build
