#include "content/oci.h"

#include "base/error.h"

namespace kiln::content {

using nlohmann::json;

namespace {
template <typename T>
void get_opt(const json& j, const char* key, T& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null())
        it->get_to(out);
}

// A count or size: an integer from 0 to INT64_MAX. A float or a larger number is a
// shape error, never a conversion (a double beyond int64 cast to it is undefined).
std::int64_t count_at(const json& j, const char* key) {
    const json& v = j.at(key);
    if (!v.is_number_integer())
        throw json::type_error::create(302, std::string(key) + " is not an integer", &v);
    if (v.is_number_unsigned() ? v.get<std::uint64_t>() > INT64_MAX : v.get<std::int64_t>() < 0)
        throw json::out_of_range::create(406, std::string(key) + " is out of range", &v);
    return v.get<std::int64_t>();
}

// schemaVersion 2, compared as JSON (no conversion of whatever number is there).
bool schema_version_2(const json& j) {
    auto it = j.find("schemaVersion");
    return it != j.end() && it->is_number_integer() && *it == 2;
}
}  // namespace

std::string chain_id(const std::string& parent, const Digest& diff_id) {
    return parent.empty() ? diff_id.str() : Digest::of(parent + " " + diff_id.str()).str();
}

void to_json(json& j, const Platform& p) {
    j = json{{"architecture", p.architecture}, {"os", p.os}};
    if (!p.variant.empty())
        j["variant"] = p.variant;
}
void from_json(const json& j, Platform& p) {
    get_opt(j, "architecture", p.architecture);
    get_opt(j, "os", p.os);
    get_opt(j, "variant", p.variant);
}

void to_json(json& j, const Descriptor& d) {
    j = json{{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
    if (!d.annotations.empty())
        j["annotations"] = d.annotations;
    if (d.platform)
        j["platform"] = *d.platform;
}
void from_json(const json& j, Descriptor& d) {
    get_opt(j, "mediaType", d.media_type);
    d.digest = Digest::parse(j.at("digest").get<std::string>());
    d.size = count_at(j, "size");
    get_opt(j, "annotations", d.annotations);
    if (j.contains("platform"))
        d.platform = j.at("platform").get<Platform>();
}

void to_json(json& j, const HistoryEntry& h) {
    j = json::object();
    if (!h.created.empty())
        j["created"] = h.created;
    if (!h.created_by.empty())
        j["created_by"] = h.created_by;
    if (!h.comment.empty())
        j["comment"] = h.comment;
    if (h.empty_layer)
        j["empty_layer"] = true;
}
void from_json(const json& j, HistoryEntry& h) {
    get_opt(j, "created", h.created);
    get_opt(j, "created_by", h.created_by);
    get_opt(j, "comment", h.comment);
    get_opt(j, "empty_layer", h.empty_layer);
}

void to_json(json& j, const RunConfig& c) {
    j = json::object();
    if (!c.user.empty())
        j["User"] = c.user;
    if (!c.exposed_ports.empty())
        j["ExposedPorts"] = c.exposed_ports;
    if (!c.env.empty())
        j["Env"] = c.env;
    if (c.entrypoint)
        j["Entrypoint"] = *c.entrypoint;
    if (c.cmd)
        j["Cmd"] = *c.cmd;
    if (!c.volumes.empty())
        j["Volumes"] = c.volumes;
    if (!c.working_dir.empty())
        j["WorkingDir"] = c.working_dir;
    if (!c.labels.empty())
        j["Labels"] = c.labels;
    if (!c.stop_signal.empty())
        j["StopSignal"] = c.stop_signal;
    if (c.shell)
        j["Shell"] = *c.shell;
    if (!c.on_build.empty())
        j["OnBuild"] = c.on_build;
    if (c.healthcheck)
        j["Healthcheck"] = *c.healthcheck;
    if (c.args_escaped)
        j["ArgsEscaped"] = true;
}
void from_json(const json& j, RunConfig& c) {
    get_opt(j, "User", c.user);
    get_opt(j, "ExposedPorts", c.exposed_ports);
    get_opt(j, "Env", c.env);
    if (j.contains("Entrypoint") && !j["Entrypoint"].is_null())
        c.entrypoint = j["Entrypoint"].get<std::vector<std::string>>();
    if (j.contains("Cmd") && !j["Cmd"].is_null())
        c.cmd = j["Cmd"].get<std::vector<std::string>>();
    get_opt(j, "Volumes", c.volumes);
    get_opt(j, "WorkingDir", c.working_dir);
    get_opt(j, "Labels", c.labels);
    get_opt(j, "StopSignal", c.stop_signal);
    if (j.contains("Shell") && !j["Shell"].is_null())
        c.shell = j["Shell"].get<std::vector<std::string>>();
    get_opt(j, "OnBuild", c.on_build);
    if (j.contains("Healthcheck") && !j["Healthcheck"].is_null())
        c.healthcheck = j["Healthcheck"];
    get_opt(j, "ArgsEscaped", c.args_escaped);
}

void to_json(json& j, const ImageConfig& c) {
    j = json::object();
    if (!c.created.empty())
        j["created"] = c.created;
    if (!c.author.empty())
        j["author"] = c.author;
    j["architecture"] = c.architecture;
    j["os"] = c.os;
    if (!c.variant.empty())
        j["variant"] = c.variant;
    j["config"] = c.config;
    json ids = json::array();
    for (const auto& d : c.diff_ids)
        ids.push_back(d.str());
    j["rootfs"] = json{{"type", "layers"}, {"diff_ids", ids}};
    if (!c.history.empty())
        j["history"] = c.history;
    if (c.kiln_cache)
        j["kiln.cache"] = *c.kiln_cache;
}
void from_json(const json& j, ImageConfig& c) {
    get_opt(j, "created", c.created);
    get_opt(j, "author", c.author);
    get_opt(j, "architecture", c.architecture);
    get_opt(j, "os", c.os);
    get_opt(j, "variant", c.variant);
    get_opt(j, "config", c.config);
    c.diff_ids.clear();
    if (j.contains("rootfs")) {
        for (const auto& d : j["rootfs"].value("diff_ids", json::array()))
            c.diff_ids.push_back(Digest::parse(d.get<std::string>()));
    }
    get_opt(j, "history", c.history);
    if (auto it = j.find("kiln.cache"); it != j.end())
        c.kiln_cache = *it;
}

void to_json(json& j, const Manifest& m) {
    j = json{{"schemaVersion", 2},
             {"mediaType", m.media_type},
             {"config", m.config},
             {"layers", m.layers}};
    if (!m.artifact_type.empty())
        j["artifactType"] = m.artifact_type;
    if (!m.annotations.empty())
        j["annotations"] = m.annotations;
}
void from_json(const json& j, Manifest& m) {
    if (!schema_version_2(j))
        throw json::other_error::create(501, "schemaVersion is not 2", &j);
    get_opt(j, "mediaType", m.media_type);
    get_opt(j, "artifactType", m.artifact_type);
    j.at("config").get_to(m.config);
    get_opt(j, "layers", m.layers);
    get_opt(j, "annotations", m.annotations);
}

void to_json(json& j, const Index& i) {
    j = json{{"schemaVersion", 2}, {"mediaType", i.media_type}, {"manifests", i.manifests}};
    if (!i.annotations.empty())
        j["annotations"] = i.annotations;
}
void from_json(const json& j, Index& i) {
    if (!schema_version_2(j))
        throw json::other_error::create(501, "schemaVersion is not 2", &j);
    get_opt(j, "mediaType", i.media_type);
    get_opt(j, "manifests", i.manifests);
    get_opt(j, "annotations", i.annotations);
}

std::string canonical(const json& j) {
    // Bytes that are not UTF-8 (a history line naming such a file) become U+FFFD,
    // as Go's encoding/json writes them in BuildKit's configs.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void throw_bad_json(const std::string& where, const std::string& why) {
    throw Error("malformed JSON in " + where + ": " + why);
}

namespace {

struct TooDeep {};

// The one bounded parse behind both readers. The callback sees each value's depth as
// it starts: stop there, before the rest is read or built.
json parse_bounded(std::string_view text) {
    return json::parse(text, [](int depth, json::parse_event_t, json&) {
        if (depth > kMaxJsonDepth)
            throw TooDeep{};
        return true;
    });
}

}  // namespace

json parse_json(const std::string& text, const std::string& where) {
    try {
        return parse_bounded(text);
    } catch (const TooDeep&) {
        throw_bad_json(where, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } catch (const json::exception& e) {
        throw_bad_json(where, e.what());
    }
}

json try_parse_json(std::string_view text) noexcept {
    try {
        return parse_bounded(text);
    } catch (...) {  // malformed, too deep, or an allocation failing
        return json(json::value_t::discarded);
    }
}

}  // namespace kiln::content
