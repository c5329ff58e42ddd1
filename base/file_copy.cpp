#include "base/file_copy.h"

#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace kiln {

namespace {

// Whether copy_file_range failed only because it cannot do this copy: read/write can.
bool fall_back(int err) {
    return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

}  // namespace

void copy_file_data(int in, int out, const std::string& src_what, const std::string& dst_what) {
    for (;;) {
        ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
        if (n == 0)
            return;
        if (n > 0)
            continue;
        if (errno == EINTR)
            continue;
        if (!fall_back(errno))
            throw errno_error("cannot copy " + src_what);
        break;
    }
    std::vector<char> buf(128 * 1024);
    for (;;) {
        ssize_t r = ::read(in, buf.data(), buf.size());
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            throw errno_error("cannot read " + src_what);
        if (r == 0)
            return;
        write_all(out, buf.data(), static_cast<std::size_t>(r), dst_what.c_str());
    }
}

}  // namespace kiln
