// Packs a directory (an OCI layout made for an output) into one tar file.
// Entries are sorted, owned by 0:0 and dated `mtime`, so equal trees give
// equal archives. File contents are streamed.
#pragma once

#include <cstdint>
#include <filesystem>

namespace kiln::exporter {

void write_tree_tar(const std::filesystem::path& dir, int fd, std::int64_t mtime);

}  // namespace kiln::exporter
