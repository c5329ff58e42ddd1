// Packs a directory (an OCI layout made for an output) into one tar file.
// Entries are sorted, owned by 0:0 and dated `mtime`, so equal trees give
// equal archives. File contents are streamed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

namespace kiln::exporter {

void write_tree_tar(const std::filesystem::path& dir, int fd, std::int64_t mtime);

// Gives `write` the fd an archive output goes to: standard output for "-"
// (written as it comes), else a file at `dest` that appears complete or not
// at all (a temp file beside it, renamed).
void write_archive(const std::filesystem::path& dest, const std::function<void(int fd)>& write);

}  // namespace kiln::exporter
