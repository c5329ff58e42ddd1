#include "registry/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::registry {

void for_each_parallel(std::size_t n, int jobs, const std::function<void(std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
        while (!failed) {
            std::size_t i = next++;
            if (i >= n)
                return;
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(mu);
                if (!first)
                    first = std::current_exception();
                failed = true;
            }
        }
    };
    const std::size_t threads =
        std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, jobs)));
    std::vector<std::jthread> pool;
    for (std::size_t t = 1; t < threads; ++t)
        pool.emplace_back(worker);
    worker();
    pool.clear();  // joins
    if (first)
        std::rethrow_exception(first);
}

}  // namespace kiln::registry
