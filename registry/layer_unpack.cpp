#include "registry/layer_unpack.h"

#include <vector>

#include "base/error.h"
#include "registry/layer_decoder.h"

namespace kiln::registry {

content::BlobInfo store_uncompressed(const content::BlobStore& store,
                                     const content::Digest& compressed,
                                     const content::Digest& diff_id,
                                     const std::atomic<bool>* cancel) {
    if (store.has(diff_id))
        return {diff_id,
                static_cast<std::int64_t>(std::filesystem::file_size(store.path(diff_id)))};
    auto in = store.reader(compressed);
    auto writer = store.writer();
    LayerDecoder decoder(compressed, [&](const char* p, std::size_t n) { writer.write(p, n); });
    std::vector<char> buf(1 << 16);
    for (;;) {
        throw_if_cancelled(cancel);
        std::size_t n = in.read(buf.data(), buf.size());
        if (n == 0)
            break;
        decoder.write(buf.data(), n);
    }
    decoder.finish();
    return commit_twin(writer, compressed, diff_id);
}

content::BlobInfo commit_twin(content::BlobStore::Writer& writer, const content::Digest& compressed,
                              const content::Digest& diff_id) {
    try {
        return writer.commit(diff_id);
    } catch (const Error&) {
        throw Error("layer " + compressed.str() + ": its content is not the diffID " +
                    diff_id.str() + " the image config names");
    }
}

}  // namespace kiln::registry
