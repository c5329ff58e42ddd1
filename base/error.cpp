#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace kiln {

void throw_if_cancelled(const CancelFlag* cancel) {
    if (cancel && cancel->load())
        throw Cancelled();
}

Error errno_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

}  // namespace kiln
