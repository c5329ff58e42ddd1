// Durations as buildx's --filter until= takes them (Go's time.ParseDuration):
// a sequence of decimal numbers, each with a unit, "24h", "2h30m", "1.5h",
// "90s", "500ms"; units ns, us (µs), ms, s, m, h. Also "d" for days, which
// `docker system prune --filter until=` users write and Go refuses.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::gc {

// Nanoseconds. Throws kiln::Error ("invalid duration \"x\": ...") otherwise.
std::int64_t parse_duration(const std::string& text);

}  // namespace kiln::gc
