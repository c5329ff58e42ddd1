#include "base/unique_fd.h"

#include <cerrno>
#include <string>

#include "base/error.h"

namespace kiln {

void write_all(int fd, const void* data, std::size_t size, const char* what) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw errno_error(std::string("cannot write ") + what);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace kiln
