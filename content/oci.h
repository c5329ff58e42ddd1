// OCI image-spec types (and their Docker schema2 twins) as nlohmann-json types.
//
// Serialisation is deterministic: objects are written with sorted keys and no
// whitespace, optional fields are omitted when unset, so equal values always
// give equal bytes and therefore equal digests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "content/digest.h"

namespace kiln::content {

namespace media_type {
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media_type

inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";

struct Platform {
    std::string architecture;
    std::string os;
    std::string variant;  // omitted when empty
    bool operator==(const Platform&) const = default;
};

struct Descriptor {
    std::string media_type;
    Digest digest;
    std::int64_t size = 0;
    std::map<std::string, std::string> annotations;  // omitted when empty
    std::optional<Platform> platform;
    bool operator==(const Descriptor&) const = default;
};

struct HistoryEntry {
    std::string created;  // RFC 3339; omitted when empty
    std::string created_by;
    std::string comment;
    bool empty_layer = false;  // omitted when false
    bool operator==(const HistoryEntry&) const = default;
};

// The "config" object of an image config: what a container starts with.
struct RunConfig {
    std::string user;
    std::map<std::string, nlohmann::json> exposed_ports;  // "80/tcp" -> {}
    std::vector<std::string> env;                         // "K=V", in order
    std::optional<std::vector<std::string>> entrypoint;
    std::optional<std::vector<std::string>> cmd;
    std::map<std::string, nlohmann::json> volumes;  // "/data" -> {}
    std::string working_dir;
    std::map<std::string, std::string> labels;
    std::string stop_signal;
    std::optional<std::vector<std::string>> shell;
    std::vector<std::string> on_build;
    std::optional<nlohmann::json> healthcheck;
    bool args_escaped = false;
    bool operator==(const RunConfig&) const = default;
};

struct ImageConfig {
    std::string created;  // omitted when empty
    std::string author;
    std::string architecture;
    std::string os;
    std::string variant;
    RunConfig config;
    std::vector<Digest> diff_ids;  // rootfs.diff_ids, type "layers"
    std::vector<HistoryEntry> history;
    // "kiln.cache": build-cache records riding in the image (--cache-to type=inline).
    std::optional<nlohmann::json> kiln_cache;
    bool operator==(const ImageConfig&) const = default;
};

struct Manifest {
    std::string media_type = media_type::kOciManifest;
    std::string artifact_type;  // OCI 1.1's artifactType; omitted when empty
    Descriptor config;
    std::vector<Descriptor> layers;
    std::map<std::string, std::string> annotations;
};

struct Index {
    std::string media_type = media_type::kOciIndex;
    std::vector<Descriptor> manifests;
    std::map<std::string, std::string> annotations;
};

void to_json(nlohmann::json& j, const Platform& p);
void from_json(const nlohmann::json& j, Platform& p);
void to_json(nlohmann::json& j, const Descriptor& d);
void from_json(const nlohmann::json& j, Descriptor& d);
void to_json(nlohmann::json& j, const HistoryEntry& h);
void from_json(const nlohmann::json& j, HistoryEntry& h);
void to_json(nlohmann::json& j, const RunConfig& c);
void from_json(const nlohmann::json& j, RunConfig& c);
void to_json(nlohmann::json& j, const ImageConfig& c);
void from_json(const nlohmann::json& j, ImageConfig& c);
void to_json(nlohmann::json& j, const Manifest& m);
void from_json(const nlohmann::json& j, Manifest& m);
void to_json(nlohmann::json& j, const Index& i);
void from_json(const nlohmann::json& j, Index& i);

// The chain ID of a layer over `parent` (the OCI image spec's: the diffID of
// the bottom layer, then sha256(parent chain ID + " " + diffID)).
std::string chain_id(const std::string& parent, const Digest& diff_id);

// Canonical bytes of a JSON value (sorted keys, compact).
std::string canonical(const nlohmann::json& j);

[[noreturn]] void throw_bad_json(const std::string& where, const std::string& why);

// No OCI or Docker document nests deeper than a handful of levels; a stranger's
// `[[[[…` of megabytes would otherwise cost seconds and hundreds of megabytes.
constexpr int kMaxJsonDepth = 64;

// Parses JSON read from `where` (a file or blob name); a parse error or a
// value nested deeper than kMaxJsonDepth is a kiln::Error that names it.
nlohmann::json parse_json(const std::string& text, const std::string& where);

// parse_json() for a reader with its own wording (registry answers, config.json, an
// archive's manifest.json): the value, or a discarded one (is_discarded()) for malformed
// JSON, a number no integer holds, or nesting deeper than kMaxJsonDepth. Never throws.
nlohmann::json try_parse_json(std::string_view text) noexcept;

// parse_json(), then the value as T; a shape error is a kiln::Error naming `where`.
template <typename T>
T parse_json_as(const std::string& text, const std::string& where) {
    nlohmann::json j = parse_json(text, where);
    try {
        return j.get<T>();
    } catch (const nlohmann::json::exception& e) {
        throw_bad_json(where, e.what());
    }
}

}  // namespace kiln::content
