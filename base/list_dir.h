// The names in an open directory.
#pragma once

#include <string>
#include <vector>

namespace kiln {

// The entries of the directory open as dir_fd (any fd that openat accepts, O_PATH
// included), sorted, without "." and "..". Throws kiln::Error naming `what`.
std::vector<std::string> list_dir(int dir_fd, const std::string& what);

}  // namespace kiln
