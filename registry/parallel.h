// A bounded pool for independent transfers (layers of one image).
#pragma once

#include <cstddef>
#include <functional>

namespace kiln::registry {

// Runs fn(0..n-1) on at most `jobs` threads. After the first exception no
// further item starts; the running ones finish, then that exception is
// rethrown, so a failed pull or push stops early but never leaves a thread
// behind.
void for_each_parallel(std::size_t n, int jobs, const std::function<void(std::size_t)>& fn);

}  // namespace kiln::registry
