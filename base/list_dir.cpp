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
}  // namespace

std::vector<std::string> list_dir(int dir_fd, const std::string& what) {
    int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup_fd < 0)
        throw errno_error("cannot read directory " + what);
    std::unique_ptr<DIR, DirClose> dir(::fdopendir(dup_fd));
    if (!dir) {
        ::close(dup_fd);
        throw errno_error("cannot read directory " + what);
    }
    std::vector<std::string> out;
    for (;;) {
        errno = 0;
        dirent* d = ::readdir(dir.get());
        if (d == nullptr) {
            if (errno != 0)
                throw errno_error("cannot read directory " + what);
            break;
        }
        std::string n = d->d_name;
        if (n != "." && n != "..")
            out.push_back(std::move(n));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace kiln
