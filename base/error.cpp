#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace kiln {

Error errno_error(const std::string& what) {
    return Error(what + ": " + std::strerror(errno));
}

}  // namespace kiln
