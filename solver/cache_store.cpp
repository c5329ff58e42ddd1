#include "solver/cache_store.h"

#include "content/atomic_file.h"

namespace kiln::solver {

CacheStore::CacheStore(std::filesystem::path dir, const content::BlobStore& blobs)
    : dir_(std::move(dir)), blobs_(blobs) {
    std::filesystem::create_directories(dir_);
}

std::optional<CacheRecord> CacheStore::get(const content::Digest& key) const {
    auto path = dir_ / std::string(key.hex());
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return std::nullopt;
    try {
        auto j = nlohmann::json::parse(read_file(path));
        CacheRecord r;
        r.created = j.value("created", "");
        if (j.contains("layer") && !j["layer"].is_null()) {
            r.layer = j["layer"].get<content::Descriptor>();
            if (!blobs_.has(r.layer->digest))
                return std::nullopt;
        }
        return r;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged record is a miss
    }
}

void CacheStore::put(const content::Digest& key, const CacheRecord& record) const {
    nlohmann::json j = {{"layer", record.layer ? nlohmann::json(*record.layer) : nlohmann::json()},
                        {"created", record.created}};
    write_file_atomic(dir_ / std::string(key.hex()), content::canonical(j));
}

}  // namespace kiln::solver
