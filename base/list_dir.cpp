#include "base/list_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "base/error.h"

namespace kiln {

namespace {
struct DirClose {
    void operator()(DIR* d) const { ::closedir(d); }
};

// Calls `each(dirent&)` for every entry but "." and "..".
template <class F>
void read_dir(int dir_fd, const std::string& what, F each) {
    int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0)
        throw errno_error("cannot read directory " + what);
    std::unique_ptr<DIR, DirClose> dir(::fdopendir(dup_fd));
    if (!dir) {
        ::close(dup_fd);
        throw errno_error("cannot read directory " + what);
    }
    for (;;) {
        errno = 0;
        dirent* d = ::readdir(dir.get());
        if (d == nullptr) {
            if (errno != 0)
                throw errno_error("cannot read directory " + what);
            break;
        }
        const char* n = d->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
            continue;
        each(*d);
    }
}

}  // namespace

std::vector<std::string> list_dir(int dir_fd, const std::string& what) {
    std::vector<std::string> out;
    read_dir(dir_fd, what, [&](const dirent& d) { out.emplace_back(d.d_name); });
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<DirEntry> list_dir_typed(int dir_fd, const std::string& what) {
    std::vector<DirEntry> out;
    read_dir(dir_fd, what, [&](const dirent& d) { out.push_back({d.d_name, d.d_type}); });
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace kiln
