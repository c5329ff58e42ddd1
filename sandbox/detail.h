// Internals of sandbox/ shared between its .cpp files (not part of the contract).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/process.h"
#include "base/unique_fd.h"

namespace kiln::sandbox::detail {

using Fd = kiln::UniqueFd;

// Where `path` (a path inside the container) lives on the host, resolving every symlink
// on the way with `root` as "/" (".." stops at root), as runc's securejoin does, with
// the one in-root resolver (base/root_dir.h). The result is always under root. From the first
// missing component on, the rest is joined lexically (".." still stops at root). Too many links →
// SandboxError.
std::filesystem::path resolve_in_root(const std::filesystem::path& root, const std::string& path);

// Like resolve_in_root, and also creates each missing directory (mode 0755), never
// following a link out of root. Returns the host path of the directory.
std::filesystem::path mkdir_in_root(const std::filesystem::path& root, const std::string& path);

// The regular file at `path` inside root (links followed there, never to the host's);
// nothing when it is missing or not a regular file.
std::optional<std::string> read_in_root(const std::filesystem::path& root, const std::string& path);

// Starts argv[0] (looked up in PATH) with the given stdin/stdout/stderr and `extra` as
// fds 3, 4, ... (base/process.h). A program that cannot be started is a SandboxError:
// "\"<program>\" cannot be started: <reason>".
Process spawn(const std::vector<std::string>& argv, int in, int out, int err,
              const std::vector<int>& extra = {});

}  // namespace kiln::sandbox::detail
