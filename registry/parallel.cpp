#include "registry/parallel.h"

#include <algorithm>

#include "base/thread_pool.h"

namespace kiln::registry {

void for_each_parallel(std::size_t n, int jobs, const std::function<void(std::size_t)>& fn) {
    parallel_for(n, static_cast<std::size_t>(std::max(1, jobs)), fn);
}

}  // namespace kiln::registry
