#include "gc/lease.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/error.h"

namespace kiln::gc {

Lease::Lease(const content::StateRoot& root, Mode mode, void (*waiting)()) {
    const auto path = root.locks() / "gc.lock";
    fd_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd_)
        throw errno_error("cannot open " + path.string());
    const int op = mode == Mode::shared ? LOCK_SH : LOCK_EX;
    if (::flock(fd_.get(), op | LOCK_NB) == 0)
        return;
    if (errno != EWOULDBLOCK)
        throw errno_error("cannot lock " + path.string());
    if (waiting)
        waiting();
    while (::flock(fd_.get(), op) != 0)
        if (errno != EINTR)
            throw errno_error("cannot lock " + path.string());
}

bool Lease::try_exclusive() {
    return fd_ && ::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0;
}

std::int64_t Lease::file_time_now() const {
    struct stat st;
    if (::futimens(fd_.get(), nullptr) != 0 || ::fstat(fd_.get(), &st) != 0)
        throw errno_error("cannot touch locks/gc.lock");
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace kiln::gc
