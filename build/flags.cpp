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
            throw Error(std::string("invalid ") + what + " \"" + item + "\"");
        if (eq == std::string::npos) {
            if (!env_fallback)
                throw Error(std::string("invalid ") + what + " \"" + item + "\" (want K=V)");
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
        std::map<std::string, std::string> kv;
        std::stringstream ss(spec);
        std::string field;
        while (std::getline(ss, field, ',')) {
            auto eq = field.find('=');
            if (eq == std::string::npos)
                throw Error("invalid --secret \"" + spec +
                            "\" (want id=ID,src=PATH or id=ID,env=VAR)");
            kv[field.substr(0, eq)] = field.substr(eq + 1);
        }
        std::string id = kv.count("id") ? kv["id"] : "";
        std::string src = kv.count("src") ? kv["src"] : (kv.count("source") ? kv["source"] : "");
        std::string env = kv.count("env") ? kv["env"] : "";
        if (id.empty())
            id = !env.empty() ? env : fs::path(src).filename().string();
        if (id.empty() || (src.empty() && env.empty()))
            throw Error("invalid --secret \"" + spec + "\" (want id=ID,src=PATH or id=ID,env=VAR)");
        Secret s;
        if (!src.empty()) {
            std::error_code ec;
            if (!fs::is_regular_file(src, ec))
                throw Error("--secret " + id + ": " + src + ": no such file");
            s.file = fs::absolute(src).string();
        } else {
            const char* v = std::getenv(env.c_str());
            if (!v)
                throw Error("--secret " + id + ": environment variable " + env + " is not set");
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
                throw Error("invalid --allow value \"" + item +
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
        throw Error("--ssh " + value + ": only the \"default\" agent is supported");
    if (eq != std::string::npos)
        return value.substr(eq + 1);
    if (const char* sock = std::getenv("SSH_AUTH_SOCK"))
        return sock;
    throw Error("--ssh default: SSH_AUTH_SOCK is not set");
}

}  // namespace kiln::build
