// Streaming compression for layers: gzip (libdeflate, in parallel blocks: gzip_blocks.h) and
// zstd (its own workers).
//
// Contract: a Compressor is a byte pipe. Bytes written are compressed and
// passed, in bounded chunks, to the downstream sink; finish() flushes the
// trailer. Memory use is bounded and independent of the stream's length.
// Output is deterministic for equal input and options: gzip headers carry no
// file name and no time.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace kiln::exporter {

enum class Compression { none, gzip, zstd };

struct CompressionOptions {
    Compression kind = Compression::gzip;
    // -1 means the format's default (gzip 6, zstd 3).
    int level = -1;
    bool operator==(const CompressionOptions&) const = default;
};

// Parses "gzip", "zstd", "uncompressed" (as buildx spells them). Throws kiln::Error.
Compression parse_compression(const std::string& name);
std::string compression_name(Compression c);

using Sink = std::function<void(const void* data, std::size_t size)>;

class Compressor {
  public:
    virtual ~Compressor() = default;
    virtual void write(const void* data, std::size_t size) = 0;
    virtual void finish() = 0;
};

// For Compression::none the returned object passes bytes through unchanged.
std::unique_ptr<Compressor> make_compressor(const CompressionOptions& options, Sink downstream);

}  // namespace kiln::exporter
