#include "registry/credentials.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/error.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "content/atomic_file.h"
#include "content/oci.h"

namespace kiln::registry {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // ordered, so a rewrite keeps the user's key order

namespace {

constexpr std::string_view kDockerHub = "docker.io";
// What credential helpers answer (on stdout, exit 1) when they hold nothing for
// a server: "credentials not found in native keychain".
constexpr std::string_view kNotFound = "credentials not found";
// Helpers may wait on a keyring prompt; kiln gives up rather than hang forever.
constexpr auto kHelperTimeout = std::chrono::seconds(60);
// The Username a helper uses to hand back an identity token instead of a password.
constexpr std::string_view kTokenUsername = "<token>";

// ---- credential helpers ------------------------------------------------------

struct HelperResult {
    int status = 0;  // exit code, or 128 + signal
    std::string out;
    std::string err;
};

// Runs `docker-credential-<helper> <verb>` (found on PATH) with `input` on
// stdin and collects what it prints. `origin` says where the helper was
// configured, for error messages.
HelperResult run_helper(const std::string& helper, const std::string& verb,
                        const std::string& input, const std::string& origin) {
    const std::string program = "docker-credential-" + helper;
    ProcessOptions p;
    p.argv = {program, verb};
    p.in = Stdio::piped();
    p.out = Stdio::piped();
    p.err = Stdio::piped();
    RunOptions run;
    run.input = input;
    run.timeout = kHelperTimeout;
    ProcessResult r;
    try {
        r = run_process(p, run);
    } catch (const SpawnError& e) {
        if (e.error == ENOENT)
            throw Error("credential helper " + program + " (" + origin +
                        ") is not installed: not found in PATH");
        throw Error("cannot run credential helper " + program + " (" + origin +
                    "): " + std::strerror(e.error));
    }
    if (r.timed_out)
        throw Error("credential helper " + program + " " + verb + " (" + origin +
                    ") did not finish within 60 seconds");
    return {r.exit_code, std::move(r.out), std::move(r.err)};
}

std::string trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos)
        return {};
    auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

bool says_not_found(const HelperResult& r) {
    return r.out.find(kNotFound) != std::string::npos || r.err.find(kNotFound) != std::string::npos;
}

// The helper's own words, on one line, for an error message.
std::string helper_message(const HelperResult& r) {
    std::string msg = trim(r.err.empty() ? r.out : r.err);
    if (msg.empty())
        msg = trim(r.out);
    if (auto nl = msg.find('\n'); nl != std::string::npos)
        msg = trim(msg.substr(0, nl));
    if (msg.empty())
        return "exit status " + std::to_string(r.status);
    return msg;
}

// ---- config.json ----------------------------------------------------------------

// Docker's ConvertToHostname: "https://host:5000/v1/" → "host:5000".
std::string hostname_of(std::string_view key) {
    if (key.starts_with("http://"))
        key.remove_prefix(7);
    else if (key.starts_with("https://"))
        key.remove_prefix(8);
    return std::string(key.substr(0, key.find('/')));
}

bool is_hub_host(std::string_view h) {
    return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io";
}

// The keys other tools file credentials for `domain` under, most specific first.
std::vector<std::string> candidate_keys(const std::string& domain) {
    std::vector<std::string> keys = {credential_key(domain), domain, "https://" + domain,
                                     "http://" + domain};
    if (domain == kDockerHub) {
        keys.push_back("index.docker.io");
        keys.push_back("registry-1.docker.io");
    }
    return keys;
}

bool key_matches(const std::string& key, const std::string& domain) {
    std::string host = hostname_of(key);
    return domain == kDockerHub ? is_hub_host(host) : host == domain;
}

// The key of `obj` holding `domain`'s entry: an exact candidate key, else the
// first key naming the same host (as Docker's file store falls back to).
std::optional<std::string> find_key(const Json& obj, const std::string& domain) {
    for (const auto& k : candidate_keys(domain))
        if (obj.contains(k))
            return k;
    for (const auto& [k, v] : obj.items())
        if (key_matches(k, domain))
            return k;
    return std::nullopt;
}

struct Config {
    Json doc = Json::object();
    bool exists = false;
};

Config load_config(const fs::path& path) {
    Config cfg;
    std::error_code ec;
    if (!fs::exists(path, ec))
        return cfg;
    cfg.exists = true;
    std::string text = read_file(path);
    if (trim(text).empty())
        return cfg;  // Docker accepts an empty file as an empty configuration
    // Bounded in depth; a parse error or a number no integer holds names the file.
    cfg.doc = content::parse_json(text, "Docker config file " + path.string());
    if (!cfg.doc.is_object())
        throw Error("Docker config file " + path.string() + " is not a JSON object");
    for (const char* field : {"auths", "credHelpers"})
        if (cfg.doc.contains(field) && !cfg.doc[field].is_object())
            throw Error("Docker config file " + path.string() + ": \"" + field +
                        "\" is not an object");
    if (cfg.doc.contains("credsStore") && !cfg.doc["credsStore"].is_string())
        throw Error("Docker config file " + path.string() + ": \"credsStore\" is not a string");
    return cfg;
}

struct Helper {
    std::string name;
    std::string origin;  // "credHelpers in FILE" / "credsStore in FILE"
};

std::optional<Helper> helper_for(const Config& cfg, const std::string& domain,
                                 const fs::path& path) {
    if (cfg.doc.contains("credHelpers")) {
        const Json& helpers = cfg.doc["credHelpers"];
        if (auto key = find_key(helpers, domain)) {
            const Json& v = helpers[*key];
            if (!v.is_string())
                throw Error("Docker config file " + path.string() + ": credHelpers[\"" + *key +
                            "\"] is not a string");
            if (!v.get<std::string>().empty())
                return Helper{v.get<std::string>(), "credHelpers in " + path.string()};
        }
    }
    if (cfg.doc.contains("credsStore")) {
        std::string name = cfg.doc["credsStore"].get<std::string>();
        if (!name.empty())
            return Helper{name, "credsStore in " + path.string()};
    }
    return std::nullopt;
}

std::optional<Credentials> helper_get(const Helper& h, const std::string& domain) {
    std::string server = credential_key(domain);
    HelperResult r = run_helper(h.name, "get", server, h.origin);
    if (r.status != 0) {
        if (says_not_found(r))
            return std::nullopt;
        throw Error("credential helper docker-credential-" + h.name + " (" + h.origin +
                    ") failed to get credentials for " + server + ": " + helper_message(r));
    }
    return parse_helper_answer(r.out, "credential helper docker-credential-" + h.name + " (" +
                                          h.origin + ") answered get for " + server);
}

std::optional<Credentials> file_entry(const Json& entry, const std::string& key,
                                      const fs::path& path) {
    auto where = [&] { return "Docker config file " + path.string() + ": auths[\"" + key + "\"]"; };
    if (!entry.is_object())
        throw Error(where() + " is not an object");
    auto field = [&](const char* name) {
        if (!entry.contains(name))
            return std::string();
        if (!entry[name].is_string())
            throw Error(where() + "." + name + " is not a string");
        return entry[name].get<std::string>();
    };
    Credentials c;
    std::string auth = field("auth");
    if (!auth.empty()) {
        auto decoded = base64_decode(trim(auth));
        auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos)
            throw Error(where() + ".auth is not base64 of \"user:password\"");
        c.username = decoded->substr(0, colon);
        c.password = decoded->substr(colon + 1);
    } else {
        c.username = field("username");
        c.password = field("password");
    }
    c.identity_token = field("identitytoken");
    if (c.username.empty() && c.password.empty() && c.identity_token.empty())
        return std::nullopt;  // e.g. the empty entries docker leaves beside a credsStore
    return c;
}

// Where a rewrite goes: through a symlinked config.json to its target, as
// docker does, so dotfile managers' links stay links.
fs::path write_target(const fs::path& path) {
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(path, ec))) {
        fs::path target = fs::read_symlink(path, ec);
        if (!ec)
            return target.is_absolute() ? target : path.parent_path() / target;
    }
    return path;
}

void save_config(const fs::path& path, const Json& doc) {
    fs::path target = write_target(path);
    fs::path dir = target.parent_path();
    if (!dir.empty()) {
        std::error_code ec;
        if (!fs::exists(dir, ec)) {
            if (dir.has_parent_path())
                fs::create_directories(dir.parent_path(), ec);
            // The directory holds secrets: only its owner may list it.
            if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
                throw errno_error("cannot create directory " + dir.string());
        }
    }
    // AtomicFile creates its temp file 0600 (mkostemp) and fchmods it to the
    // mode given, so the secrets are never readable by others, even briefly.
    write_file_atomic(target, doc.dump(1, '\t') + "\n", 0600);
}

}  // namespace

std::optional<Credentials> parse_helper_answer(std::string_view out, const std::string& who) {
    Json answer = content::try_parse_json(out);
    if (answer.is_discarded())
        throw Error(who + " with something other than JSON");
    auto field = [&](const char* name) {
        auto it = answer.is_object() ? answer.find(name) : answer.end();
        return it != answer.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    Credentials c;
    std::string user = field("Username");
    std::string secret = field("Secret");
    // "<token>" with no secret is no identity token: no credentials, not empty ones.
    if (secret.empty() && (user.empty() || user == kTokenUsername))
        return std::nullopt;
    if (user == kTokenUsername) {
        c.identity_token = secret;
    } else {
        c.username = user;
        c.password = secret;
    }
    return c;
}

std::string credential_key(const std::string& domain) {
    return domain == kDockerHub ? std::string("https://index.docker.io/v1/") : domain;
}

fs::path docker_config_path() {
    const char* dc = std::getenv("DOCKER_CONFIG");
    if (dc != nullptr && *dc != '\0')
        return fs::path(dc) / "config.json";
    const char* home = std::getenv("HOME");
    std::string dir = home != nullptr ? home : "";
    if (dir.empty()) {
        // HOME is unset under some service managers; the password database still knows.
        if (passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr)
            dir = pw->pw_dir;
    }
    if (dir.empty())
        throw Error("cannot find the Docker config file: neither DOCKER_CONFIG nor HOME is set");
    return fs::path(dir) / ".docker" / "config.json";
}

CredentialStore::CredentialStore(fs::path config) : path_(std::move(config)) {}

std::optional<Credentials> CredentialStore::lookup(const std::string& domain) const {
    Config cfg = load_config(path_);
    if (auto h = helper_for(cfg, domain, path_)) {
        if (auto c = helper_get(*h, domain))
            return c;
    }
    if (!cfg.doc.contains("auths"))
        return std::nullopt;
    const Json& auths = cfg.doc["auths"];
    for (const auto& k : candidate_keys(domain)) {
        if (auths.contains(k)) {
            if (auto c = file_entry(auths[k], k, path_))
                return c;
        }
    }
    for (const auto& [k, v] : auths.items()) {
        if (key_matches(k, domain)) {
            if (auto c = file_entry(v, k, path_))
                return c;
        }
    }
    return std::nullopt;
}

void CredentialStore::store(const std::string& domain, const Credentials& c) {
    Config cfg = load_config(path_);
    std::string key = credential_key(domain);
    if (auto h = helper_for(cfg, domain, path_)) {
        Json req = {{"ServerURL", key}};
        if (!c.identity_token.empty()) {
            req["Username"] = kTokenUsername;
            req["Secret"] = c.identity_token;
        } else {
            req["Username"] = c.username;
            req["Secret"] = c.password;
        }
        HelperResult r = run_helper(h->name, "store", req.dump(), h->origin);
        if (r.status != 0)
            throw Error("credential helper docker-credential-" + h->name + " (" + h->origin +
                        ") failed to store credentials for " + key + ": " + helper_message(r));
        return;
    }
    Json entry = Json::object();
    if (!c.username.empty() || !c.password.empty())
        entry["auth"] = base64_encode(c.username + ":" + c.password);
    if (!c.identity_token.empty())
        entry["identitytoken"] = c.identity_token;
    cfg.doc["auths"][key] = std::move(entry);
    save_config(path_, cfg.doc);
}

bool CredentialStore::erase(const std::string& domain) {
    Config cfg = load_config(path_);
    if (auto h = helper_for(cfg, domain, path_)) {
        std::string key = credential_key(domain);
        HelperResult r = run_helper(h->name, "erase", key, h->origin);
        if (r.status == 0)
            return true;
        if (says_not_found(r))
            return false;
        throw Error("credential helper docker-credential-" + h->name + " (" + h->origin +
                    ") failed to erase credentials for " + key + ": " + helper_message(r));
    }
    if (!cfg.doc.contains("auths"))
        return false;
    // Every alias lookup() could find goes, so a logout really logs out.
    Json& auths = cfg.doc["auths"];
    std::vector<std::string> doomed;
    for (const auto& [k, v] : auths.items())
        if (key_matches(k, domain))
            doomed.push_back(k);
    if (doomed.empty())
        return false;
    for (const auto& k : doomed)
        auths.erase(k);
    save_config(path_, cfg.doc);
    return true;
}

}  // namespace kiln::registry
