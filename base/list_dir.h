// The names in an open directory.
#pragma once

#include <string>
#include <vector>

namespace kiln {

// The entries of the directory open as dir_fd (any fd that openat accepts, O_PATH
// included), sorted, without "." and "..". Throws kiln::Error naming `what`.
std::vector<std::string> list_dir(int dir_fd, const std::string& what);

// An entry with the type getdents reported for it (a DT_* value; DT_UNKNOWN
// where the file system does not say). The type lets a walker skip the stat
// of an entry it treats alike whatever else stat would say (a regular file
// it only links, say); it is read in the same call as the name, so it is as
// current as the name.
struct DirEntry {
    std::string name;
    unsigned char type = 0;
    friend bool operator<(const DirEntry& a, const DirEntry& b) { return a.name < b.name; }
};

// As list_dir, with each entry's type.
std::vector<DirEntry> list_dir_typed(int dir_fd, const std::string& what);

}  // namespace kiln
