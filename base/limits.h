// Process-wide limits set once from the command line (kiln build/pull/load
// --max-layer-size), read wherever untrusted bytes are unpacked.
#pragma once

#include <cstdint>
#include <string>

namespace kiln {

// The largest uncompressed layer kiln unpacks or stores from a pull, a load or an
// ADD'ed archive (default 64 GiB): past it, the work stops with an Error rather than
// filling the disk.
std::uint64_t max_layer_size();
void set_max_layer_size(std::uint64_t bytes);

// "64G", "500M", "1024" (bytes; K, M, G, T are powers of 1024). Throws kiln::Error.
std::uint64_t parse_size(const std::string& text);

// The Error for a layer over the limit, naming it.
[[noreturn]] void throw_layer_too_large(const std::string& what);

}  // namespace kiln
