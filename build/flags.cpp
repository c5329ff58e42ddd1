#include "build/flags.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "base/error.h"

namespace kiln::build {

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> parse_kv_list(const std::vector<std::string>& items,
                                                 const char* what, bool env_fallback) {
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        auto eq = item.find('=');
        if (eq == 0)
            throw UsageError(std::string("invalid ") + what + " \"" + item + "\"");
        if (eq == std::string::npos) {
            if (!env_fallback)
                throw UsageError(std::string("invalid ") + what + " \"" + item + "\" (want K=V)");
            if (const char* v = std::getenv(item.c_str()))
                out[item] = v;
            continue;
        }
        out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

}  // namespace

std::map<std::string, std::string> parse_build_args(const std::vector<std::string>& items) {
    return parse_kv_list(items, "--build-arg", true);
}

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& items) {
    return parse_kv_list(items, "--label", false);
}

std::map<std::string, Secret> parse_secrets(const std::vector<std::string>& specs) {
    std::map<std::string, Secret> out;
    for (const auto& spec : specs) {
        const std::string want = " (want id=ID,src=PATH or id=ID,env=VAR)";
        std::map<std::string, std::string> kv;
        std::stringstream ss(spec);
        std::string field;
        while (std::getline(ss, field, ',')) {
            auto eq = field.find('=');
            if (eq == std::string::npos)
                throw UsageError("invalid --secret \"" + spec + "\"" + want);
            const std::string key = field.substr(0, eq);
            // buildx's keys; anything else is a typo that would be silently lost.
            if (key != "id" && key != "src" && key != "source" && key != "env" && key != "type")
                throw UsageError("invalid --secret \"" + spec + "\": unknown key \"" + key +
                                 "\" (it takes id, src, env and type)");
            kv[key] = field.substr(eq + 1);
        }
        std::string id = kv.count("id") ? kv["id"] : "";
        std::string src = kv.count("src") ? kv["src"] : (kv.count("source") ? kv["source"] : "");
        std::string env = kv.count("env") ? kv["env"] : "";
        if (kv.count("type")) {
            const std::string& type = kv["type"];
            if (type != "file" && type != "env")
                throw UsageError("invalid --secret \"" + spec + "\": type must be file or env");
            if (type == "env" && env.empty())
                env = !id.empty() ? id : src;  // buildx: type=env,id=KEY reads $KEY
            if (type == "env")
                src.clear();
            else
                env.clear();
        }
        if (id.empty())
            id = !env.empty() ? env : fs::path(src).filename().string();
        if (id.empty() || (src.empty() && env.empty()))
            throw UsageError("invalid --secret \"" + spec + "\"" + want);
        Secret s;
        if (!src.empty()) {
            std::error_code ec;
            if (!fs::is_regular_file(src, ec))
                throw UsageError("--secret " + id + ": " + src + ": no such file");
            s.file = fs::absolute(src).string();
        } else {
            const char* v = std::getenv(env.c_str());
            if (!v)
                throw UsageError("--secret " + id + ": environment variable " + env +
                                 " is not set");
            s.value = v;
        }
        out[id] = s;
    }
    return out;
}

Entitlements parse_allow(const std::vector<std::string>& values) {
    Entitlements e;
    for (const auto& v : values) {
        std::stringstream ss(v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (item == "network.host")
                e.network_host = true;
            else if (item == "security.insecure")
                e.insecure = true;
            else
                throw UsageError("invalid --allow value \"" + item +
                                 "\" (want network.host or security.insecure)");
        }
    }
    return e;
}

std::string parse_ssh(const std::string& value) {
    if (value.empty())
        return "";
    auto eq = value.find('=');
    if (value.substr(0, eq) != "default")
        throw UsageError("--ssh " + value + ": only the \"default\" agent is supported");
    if (eq != std::string::npos)
        return value.substr(eq + 1);
    if (const char* sock = std::getenv("SSH_AUTH_SOCK"))
        return sock;
    throw UsageError("--ssh default: SSH_AUTH_SOCK is not set");
}

}  // namespace kiln::build
