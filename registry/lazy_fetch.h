// Fetching the layers a build knows only lazily (content/lazy_layers.h):
// the compressed blob from its registry (the client's auth and retries) or
// OCI layout, verified, then its uncompressed twin when the diffID is asked
// for, recorded as twins (content/layer_twins.h) and with its source
// (registry/blob_sources.h), exactly as a pull leaves them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "content/lazy_layers.h"
#include "content/state_root.h"
#include "registry/client.h"

namespace kiln::registry {

class LayerFetcher {
  public:
    LayerFetcher(const content::StateRoot& root, ClientOptions options,
                 std::function<void(const std::string&)> log = {});
    // content::LazyLayers::Fetch. Throws kiln::Error naming the blob and its source.
    void fetch(const content::RemoteLayer& layer, const content::Digest& digest);

  private:
    void fetch_from(const content::RemoteLayer& layer, const content::Digest& digest,
                    const std::string& from);
    Client& client(const std::string& domain);
    const content::StateRoot& root_;
    ClientOptions options_;
    std::function<void(const std::string&)> log_;
    std::mutex mu_;
    std::map<std::string, std::unique_ptr<Client>> clients_;
};

}  // namespace kiln::registry
