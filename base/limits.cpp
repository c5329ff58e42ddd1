#include "base/limits.h"

#include <atomic>
#include <cctype>

#include "base/error.h"

namespace kiln {

namespace {
std::atomic<std::uint64_t> g_max_layer_size{std::uint64_t{64} << 30};
}

std::uint64_t max_layer_size() {
    return g_max_layer_size.load(std::memory_order_relaxed);
}

void set_max_layer_size(std::uint64_t bytes) {
    g_max_layer_size.store(bytes, std::memory_order_relaxed);
}

std::uint64_t parse_size(const std::string& text) {
    std::size_t i = 0;
    std::uint64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (v > (UINT64_MAX - 9) / 10)
            throw Error("invalid size \"" + text + "\": too large");
        v = v * 10 + static_cast<std::uint64_t>(text[i++] - '0');
    }
    if (i == 0)
        throw Error("invalid size \"" + text + "\" (want a number of bytes, or with K, M, G, T)");
    std::string unit = text.substr(i);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b'))
        unit.pop_back();
    int shift = 0;
    if (unit.empty())
        shift = 0;
    else if (unit == "K" || unit == "k")
        shift = 10;
    else if (unit == "M" || unit == "m")
        shift = 20;
    else if (unit == "G" || unit == "g")
        shift = 30;
    else if (unit == "T" || unit == "t")
        shift = 40;
    else
        throw Error("invalid size \"" + text + "\" (want a number of bytes, or with K, M, G, T)");
    if (shift && v > (UINT64_MAX >> shift))
        throw Error("invalid size \"" + text + "\": too large");
    return v << shift;
}

void throw_layer_too_large(const std::string& what) {
    throw Error(what + ": larger than the " + std::to_string(max_layer_size()) +
                "-byte limit on an uncompressed layer (--max-layer-size)");
}

}  // namespace kiln
