#include "remote_cache/cache_format.h"

#include "base/error.h"

namespace kiln::remote_cache {

nlohmann::json encode_records(const std::vector<Record>& records) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : records) {
        nlohmann::json j = {{"key", r.key.str()}, {"created", r.created}};
        if (!r.parent.empty())
            j["parent"] = r.parent;
        if (r.layer)
            j["layer"] = {{"index", r.layer->index},
                          {"diff_id", r.layer->diff_id.str()},
                          {"diff_size", r.layer->diff_size}};
        if (!r.summary.is_null())
            j["summary"] = r.summary;
        list.push_back(std::move(j));
    }
    return {{"version", kFormatVersion}, {"records", std::move(list)}};
}

std::vector<Record> decode_records(const nlohmann::json& cache, std::size_t layer_count,
                                   const std::string& where) {
    try {
        if (!cache.is_object() || cache.value("version", 0) != kFormatVersion)
            throw Error(where + ": not a kiln cache of version " + std::to_string(kFormatVersion));
        std::vector<Record> out;
        for (const auto& j : cache.at("records")) {
            Record r;
            r.key = content::Digest::parse(j.at("key").get<std::string>());
            r.parent = j.value("parent", "");
            r.created = j.value("created", "");
            if (j.contains("layer")) {
                const auto& l = j["layer"];
                LayerRef ref;
                ref.index = l.at("index").get<std::size_t>();
                ref.diff_id = content::Digest::parse(l.at("diff_id").get<std::string>());
                ref.diff_size = l.value("diff_size", std::int64_t{-1});
                if (ref.index >= layer_count)
                    throw Error(where + ": record " + r.key.str() + " names layer " +
                                std::to_string(ref.index) + " of " + std::to_string(layer_count));
                r.layer = ref;
            }
            if (j.contains("summary"))
                r.summary = j["summary"];
            out.push_back(std::move(r));
        }
        return out;
    } catch (const nlohmann::json::exception& e) {
        throw Error(where + ": malformed cache records: " + e.what());
    }
}

}  // namespace kiln::remote_cache
