#include "content/layer_twins.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "content/atomic_file.h"
#include "content/oci.h"

namespace kiln::content {

namespace fs = std::filesystem;

namespace {

fs::path record_path(const StateRoot& root, const Digest& diff_id, const std::string& variant) {
    return root.cache() / "compressed" / variant / std::string(diff_id.hex());
}

}  // namespace

std::string default_variant_of(const std::string& t) {
    if (t.ends_with("gzip"))  // +gzip (OCI), .gzip (Docker)
        return "gzip--1";
    if (t.ends_with("zstd"))
        return "zstd--1";
    return "";
}

std::optional<BlobInfo> find_layer_twin(const StateRoot& root, const Digest& diff_id,
                                        const std::string& variant) {
    const fs::path p = record_path(root, diff_id, variant);
    std::error_code ec;
    if (!fs::exists(p, ec))
        return std::nullopt;
    try {
        auto j = nlohmann::json::parse(read_file(p));
        BlobInfo info{Digest::parse(j.at("digest").get<std::string>()),
                      j.at("size").get<std::int64_t>()};
        struct stat st;
        if (::stat(root.blobs().path(info.digest).c_str(), &st) != 0 || st.st_size != info.size)
            return std::nullopt;
        return info;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged record only costs a recompression
    }
}

void record_layer_twin(const StateRoot& root, const Digest& diff_id, const std::string& variant,
                       const BlobInfo& compressed) {
    const fs::path p = record_path(root, diff_id, variant);
    fs::create_directories(p.parent_path());
    nlohmann::json j{{"digest", compressed.digest.str()}, {"size", compressed.size}};
    write_file_atomic(p, canonical(j));
}

}  // namespace kiln::content
