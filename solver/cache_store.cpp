#include "solver/cache_store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "content/atomic_file.h"
#include "content/lazy_layers.h"

namespace kiln::solver {

nlohmann::json to_json(const CacheRecord& r) {
    nlohmann::json j = {{"layer", r.layer ? nlohmann::json(*r.layer) : nlohmann::json()},
                        {"created", r.created}};
    if (!r.parent.empty())
        j["parent"] = r.parent;
    if (!r.summary.is_null())
        j["summary"] = r.summary;
    return j;
}

CacheRecord record_from_json(const nlohmann::json& j) {
    CacheRecord r;
    r.created = j.value("created", "");
    r.parent = j.value("parent", "");
    if (j.contains("layer") && !j["layer"].is_null())
        r.layer = j["layer"].get<content::Descriptor>();
    if (j.contains("summary"))
        r.summary = j["summary"];
    return r;
}

CacheStore::CacheStore(std::filesystem::path dir, const content::BlobStore& blobs)
    : dir_(std::move(dir)), blobs_(blobs) {
    std::filesystem::create_directories(dir_);
}

namespace {

// The record in `path` if it is one for `key`; throws on anything else.
CacheRecord read_record(const std::filesystem::path& path, const content::Digest& key) {
    const auto j = nlohmann::json::parse(read_file(path));
    if (j.value("key", "") != key.str())
        throw std::runtime_error("not the record of " + key.str());
    return record_from_json(j);
}

}  // namespace

std::optional<CacheRecord> CacheStore::get(const content::Digest& key) const {
    auto path = dir_ / std::string(key.hex());
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        return std::nullopt;
    try {
        CacheRecord r = read_record(path, key);
        if (r.layer && !blobs_.has(r.layer->digest) &&
            !(blobs_.lazy() && blobs_.lazy()->knows(r.layer->digest)))
            return std::nullopt;
        // A hit is a use: the collector removes least recently used records first.
        ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
        return r;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged record is a miss
    }
}

void CacheStore::put(const content::Digest& key, const CacheRecord& record) const {
    nlohmann::json j = to_json(record);
    j["key"] = key.str();
    write_file_atomic(dir_ / std::string(key.hex()), content::canonical(j), 0644,
                      Durability::unsynced);
}

std::vector<std::pair<content::Digest, CacheRecord>> CacheStore::all() const {
    std::vector<std::pair<content::Digest, CacheRecord>> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
        try {
            auto key = content::Digest::parse("sha256:" + e.path().filename().string());
            out.emplace_back(key, read_record(e.path(), key));
        } catch (const std::exception&) {
            // a temp file or a damaged record: not a candidate
        }
    }
    return out;
}

}  // namespace kiln::solver
