// Retry policy for registry requests: which responses are worth another
// attempt, and how long to wait before it. Pure functions; the loop that
// applies them is Client::Impl::retrying (registry/client_impl.h).
//
// Contract:
//  - retryable_status: true for 408, 429, 500, 502, 503 and 504 only — a
//    timeout, a rate limit or a server-side failure that a later attempt may
//    not meet. Any other status would be answered the same way again.
//  - retry_after: the Retry-After header as delta-seconds (at most 6 digits);
//    nullopt when it is absent or an HTTP-date.
//  - backoff: the wait after the `attempt`-th failure (1-based): uniform in
//    [0, min(base_delay * 2^(attempt-1), max_delay)] ("full jitter", so
//    clients that failed together do not retry together), raised to `after`
//    when given, with `after` itself capped at max_delay. Never more than
//    max_delay. Safe to call from several threads (the generator is
//    per thread).
#pragma once

#include <chrono>
#include <optional>

#include "registry/client.h"
#include "registry/transport.h"

namespace kiln::registry {

bool retryable_status(long s);

std::optional<std::chrono::milliseconds> retry_after(const Response& r);

std::chrono::milliseconds backoff(const RetryPolicy& p, int attempt,
                                  std::optional<std::chrono::milliseconds> after);

}  // namespace kiln::registry
