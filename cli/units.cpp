#include "cli/units.h"

#include <cstdio>

namespace kiln::cli {

std::string human_size(std::int64_t n) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
    return buf;
}

std::string time_ago(std::int64_t when, std::int64_t now) {
    if (when <= 0)
        return "-";
    std::int64_t s = (now - when) / 1000000000;
    if (s < 1)
        return "just now";
    auto plural = [](std::int64_t n, const char* unit) {
        return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
    };
    if (s < 60)
        return plural(s, "second");
    if (s < 3600)
        return plural(s / 60, "minute");
    if (s < 86400)
        return plural(s / 3600, "hour");
    return plural(s / 86400, "day");
}

}  // namespace kiln::cli
