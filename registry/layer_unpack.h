// A pulled layer's uncompressed twin: the local store keeps every layer as
// a plain tar named by its diffID (what snapshots are made from and what
// builds reference), beside the registry's compressed blob.
#pragma once

#include <atomic>

#include "content/blob_store.h"
#include "content/digest.h"

namespace kiln::registry {

// Decompresses blob `compressed` (gzip or zstd, told by its magic bytes;
// an uncompressed tar is copied) into the store, verified against
// `diff_id` while streaming. Throws kiln::Error naming the blob when the
// stream is damaged or its content is not `diff_id`; nothing is named then.
// `cancel`, when set, stops it with kiln::Cancelled.
content::BlobInfo store_uncompressed(const content::BlobStore& store,
                                     const content::Digest& compressed,
                                     const content::Digest& diff_id,
                                     const std::atomic<bool>* cancel = nullptr);

// Publishes a twin written by the caller, verified against `diff_id`; the
// error on a mismatch names `compressed`, as store_uncompressed()'s does.
content::BlobInfo commit_twin(content::BlobStore::Writer& writer, const content::Digest& compressed,
                              const content::Digest& diff_id);

}  // namespace kiln::registry
