#include "registry/retry.h"

#include <algorithm>
#include <random>
#include <string>

namespace kiln::registry {

bool retryable_status(long s) {
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

std::optional<std::chrono::milliseconds> retry_after(const Response& r) {
    std::string v = r.header("retry-after");
    if (v.empty() ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        v.size() > 6) {
        return std::nullopt;  // an HTTP-date: plain backoff is good enough
    }
    return std::chrono::seconds(std::stol(v));
}

// Exponential backoff with full jitter, at least what Retry-After asked for
// (capped, so a registry cannot park kiln for an hour).
std::chrono::milliseconds backoff(const RetryPolicy& p, int attempt,
                                  std::optional<std::chrono::milliseconds> after) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    auto cap = p.base_delay.count();
    for (int i = 1; i < attempt && cap < p.max_delay.count(); ++i) {
        cap *= 2;
    }
    cap = std::min<long long>(cap, p.max_delay.count());
    std::uniform_int_distribution<long long> dist(0, std::max<long long>(cap, 0));
    std::chrono::milliseconds d(dist(rng));
    if (after) {
        d = std::max(d, std::min(*after, p.max_delay));
    }
    return d;
}

}  // namespace kiln::registry
