// gzip in independent blocks, compressed on several cores.
//
// Contract:
//  - The input is cut into blocks of kGzipBlockSize bytes at fixed offsets of
//    the stream; each block becomes one complete gzip member (RFC 1952: no file
//    name, mtime 0), compressed by libdeflate, and the members follow each other
//    in order. RFC 1952 defines a gzip file as a series of members, and every
//    reader of image layers (Go's compress/gzip, pgzip, containerd, skopeo, umoci,
//    GNU gzip, zlib's gzread, libarchive) reads them as one stream; eStargz layers
//    are built the same way. Empty input is one empty member.
//  - Output bytes depend only on the input bytes and the level: not on how the
//    input is split into write() calls, nor on the number of cores or threads.
//  - Memory is bounded: at most 2 × threads blocks (input and output) are in
//    flight; write() waits for the oldest before queueing more. Output reaches
//    the sink in stream order, in pieces of at most 128 KiB, from the thread
//    that calls write()/finish().
//  - A failing sink or compressor surfaces as the exception of the write() or
//    finish() that met it; the destructor waits for blocks still compressing.
#pragma once

#include <cstddef>
#include <memory>

#include "exporter/compression.h"

namespace kiln::exporter {

inline constexpr std::size_t kGzipBlockSize = 1024 * 1024;

// `threads` 0 means one per core. Level -1 is gzip's default (6); 0..9 else.
std::unique_ptr<Compressor> make_block_gzip(int level, Sink sink, unsigned threads = 0);

}  // namespace kiln::exporter
