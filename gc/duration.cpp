#include "gc/duration.h"

#include <cctype>
#include <cmath>

#include "base/error.h"

namespace kiln::gc {

std::int64_t parse_duration(const std::string& text) {
    auto bad = [&](const std::string& why) {
        return Error("invalid duration \"" + text + "\": " + why + " (e.g. 24h, 2h30m, 90s)");
    };
    if (text.empty())
        throw bad("empty");
    if (text == "0")
        return 0;
    double total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() &&
               (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
            ++i;
        if (i == start)
            throw bad("a number is missing");
        double value;
        try {
            value = std::stod(text.substr(start, i - start));
        } catch (const std::exception&) {
            throw bad("not a number");
        }
        std::size_t ustart = i;
        while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) &&
               text[i] != '.')
            ++i;
        const std::string unit = text.substr(ustart, i - ustart);
        double scale;
        if (unit == "ns")
            scale = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
            scale = 1e3;
        else if (unit == "ms")
            scale = 1e6;
        else if (unit == "s")
            scale = 1e9;
        else if (unit == "m")
            scale = 60e9;
        else if (unit == "h")
            scale = 3600e9;
        else if (unit == "d")
            scale = 86400e9;
        else if (unit.empty())
            throw bad("a unit is missing");
        else
            throw bad("unknown unit \"" + unit + "\"");
        total += value * scale;
    }
    if (!std::isfinite(total) || total > 9.2e18)
        throw bad("too long");
    return static_cast<std::int64_t>(total);
}

}  // namespace kiln::gc
