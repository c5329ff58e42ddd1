// A layer blob decompressed as its bytes arrive, in chunks of any size: the
// one decoder behind store_uncompressed() (from the store) and one-pass pulls
// (from the network).
//
// Contract:
//  - The format is told by the first bytes (a registry's media type is only a
//    claim): gzip (concatenated members are one stream, RFC 1952, as
//    `gzip -d`), zstd, or anything else passed through as an uncompressed tar.
//  - The output goes to `out` in chunks as it is made; more than
//    kiln::max_layer_size() bytes in all (--max-layer-size) stops with an
//    Error, so a small blob that inflates without end fills no disk.
//  - Errors are kiln::Error starting "layer <blob>: ": damaged data from
//    write(), a stream that stops inside a gzip member or zstd frame from
//    finish(). After an error the decoder must not be used again.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "content/digest.h"

namespace kiln::registry {

class LayerDecoder {
  public:
    using Sink = std::function<void(const char* data, std::size_t size)>;
    LayerDecoder(content::Digest blob, Sink out);
    ~LayerDecoder();
    LayerDecoder(const LayerDecoder&) = delete;
    LayerDecoder& operator=(const LayerDecoder&) = delete;

    void write(const char* data, std::size_t size);
    // The blob has ended.
    void finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::registry
