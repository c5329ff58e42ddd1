#include "registry/push.h"

#include <atomic>
#include <mutex>

#include "base/error.h"
#include "content/lazy_layers.h"
#include "registry/blob_sources.h"
#include "registry/parallel.h"

namespace kiln::registry {

namespace mt = content::media_type;

namespace {

struct Pusher {
    const content::StateRoot& root;
    const Reference& ref;
    const PushOptions& options;
    Client client;
    std::mutex log_mu;
    std::atomic<int> uploaded{0}, mounted{0}, existing{0};

    void log(const std::string& line) {
        if (!options.log)
            return;
        std::lock_guard lock(log_mu);
        options.log(line);
    }

    void push_blob(const content::Descriptor& d) {
        const std::string id(d.digest.hex().substr(0, 12));
        // A blob the store knows only lazily (a shared-cache hit, a base
        // resolved without its layers) is downloaded only when the registry
        // has it nowhere to skip or mount from.
        const bool lazy = !root.blobs().has(d.digest) && root.blobs().lazy() &&
                          root.blobs().lazy()->knows(d.digest);
        if (!lazy && !root.blobs().has(d.digest))
            throw Error("push " + ref.str() + ": blob " + d.digest.str() +
                        " is not in the local store");
        if (client.has_blob(ref.repository, d.digest)) {
            ++existing;
            log(id + ": layer already exists");
        } else {
            bool done = false;
            for (const auto& from : blob_sources(root, d.digest, ref.domain)) {
                if (from == ref.repository)
                    continue;
                if (client.mount_blob(ref.repository, d.digest, from)) {
                    ++mounted;
                    log(id + ": mounted from " + from);
                    done = true;
                    break;
                }
            }
            if (!done) {
                if (lazy && !root.blobs().ensure(d.digest))
                    throw Error("push " + ref.str() + ": blob " + d.digest.str() +
                                " could not be fetched");
                client.push_blob(ref.repository, d.digest, d.size, root.blobs());
                ++uploaded;
                log(id + ": pushed");
            }
        }
        record_blob_source(root, d.digest, ref.domain, ref.repository);
    }

    // Pushes the blobs `desc` names and then `desc` itself, by digest, or
    // under `tag` when one is given.
    content::Digest push_manifest(const content::Descriptor& desc, const std::string& tag) {
        const std::string bytes = root.blobs().read_all(desc.digest);
        const std::string where = "push " + ref.str() + ": manifest " + desc.digest.str();
        if (desc.media_type == mt::kOciIndex || desc.media_type == mt::kDockerManifestList) {
            auto index = content::parse_json_as<content::Index>(bytes, where);
            for (const auto& child : index.manifests)
                push_manifest(child, "");
        } else {
            auto m = content::parse_json_as<content::Manifest>(bytes, where);
            std::vector<content::Descriptor> todo = m.layers;
            todo.push_back(m.config);
            for_each_parallel(todo.size(), options.jobs,
                              [&](std::size_t i) { push_blob(todo[i]); });
        }
        return client.put_manifest(ref.repository, tag.empty() ? desc.digest.str() : tag,
                                   desc.media_type, bytes);
    }
};

}  // namespace

PushResult push_image(const content::StateRoot& root, const content::Descriptor& manifest,
                      const Reference& ref, const PushOptions& options) {
    Pusher p{root, ref, options, Client(ref.domain, options.client), {}, {}, {}, {}};
    const std::string tag = options.by_digest || ref.tag.empty() ? "" : ref.tag;
    if (ref.digest && *ref.digest != manifest.digest.str())
        throw Error("push " + ref.str() + ": the image's digest is " + manifest.digest.str());
    PushResult r;
    r.digest = p.push_manifest(manifest, tag);
    r.size = manifest.size;
    r.stats = {p.uploaded, p.mounted, p.existing};
    return r;
}

}  // namespace kiln::registry
