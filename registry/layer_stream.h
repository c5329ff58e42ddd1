// One-pass pulls: a layer decompressed, stored uncompressed and unpacked
// while it downloads, instead of downloaded, read back to decompress, and
// read back again to unpack.
//
// Contract:
//  - A LayerStream is the BlobTee of one Client::fetch_blob(): each
//    compressed chunk, as it arrives, is decompressed (LayerDecoder) into a
//    new uncompressed twin in the store and handed, through a buffer of at
//    most kInFlight bytes, to `unpack`, which runs on a thread of its own
//    with a reader of the uncompressed bytes.
//  - The reader returns 0 (the end) only after finish() found the twin
//    verified against the diffID, which the caller calls once fetch_blob()
//    verified the compressed blob. In every other case it throws, so an
//    unpacker that publishes only after reading to the end never publishes
//    a layer that did not verify.
//  - The stream breaks for good when the download starts over, when the
//    bytes do not decompress or when the twin is not the diffID; finish()
//    then returns false, stores nothing, and the caller goes the two-pass
//    way (store_uncompressed), whose error is the one to report.
//  - The unpacker's own failure (or its stopping early) never stops the
//    download: later bytes are not handed to it, and its error is dropped
//    (the layer is unpacked again, and fails there, when a build needs it).
//  - Memory: at most kInFlight bytes wait for the unpacker; a slow unpacker
//    slows the download, never the other way round.
//  - The destructor, in any state, ends the reader with an error and joins
//    the thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "content/blob_store.h"
#include "registry/client.h"

namespace kiln::registry {

// Reads up to `size` bytes of a layer's tar; 0 at its verified end.
using LayerReader = std::function<std::size_t(void* buf, std::size_t size)>;

class LayerStream final : public BlobTee {
  public:
    static constexpr std::size_t kInFlight = 1 << 20;

    LayerStream(const content::BlobStore& store, content::Digest compressed,
                content::Digest diff_id, std::function<void(const LayerReader&)> unpack);
    ~LayerStream();
    LayerStream(const LayerStream&) = delete;
    LayerStream& operator=(const LayerStream&) = delete;

    void write(const char* data, std::size_t size) override;
    void restart() override;

    // After fetch_blob() returned: true when the twin is stored (and the
    // unpacker has returned); false when the stream broke.
    bool finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::registry
