#include "content/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "base/error.h"

namespace kiln {

FileLock::FileLock(const std::filesystem::path& path)
    : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (!fd_)
        throw errno_error("cannot open lock " + path.string());
    while (::flock(fd_.get(), LOCK_EX) != 0) {
        if (errno != EINTR)
            throw errno_error("cannot lock " + path.string());
    }
}

}  // namespace kiln
