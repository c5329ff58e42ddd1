// Registry credentials in Docker's config file, read and written the way
// `docker login` does, so kiln, docker, buildx, podman and skopeo share them.
//
// Contract:
//  - The file is $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json
//    (the password database's home when HOME is unset).
//  - lookup(): `credHelpers[host]` wins, then `credsStore`, both run as
//    `docker-credential-<helper> get` (found on PATH) with the server on stdin
//    (JSON answer {"ServerURL","Username","Secret"}; Username "<token>" means
//    Secret is an identity token). A helper answering "credentials not found"
//    falls through to the file; a helper that is missing, fails otherwise or
//    takes over 60 s is an error naming it. Then `auths[key].auth` (base64
//    "user:pass") or its "username"/"password" fields; "identitytoken" is
//    returned as such. Keys tried: credential_key(host), host, https://host,
//    http://host (docker.io also index.docker.io, registry-1.docker.io), then
//    any key whose host part (scheme and path stripped) names the host.
//    A missing or empty file means no credentials; a malformed one is an
//    error naming it.
//  - store()/erase() rewrite the file atomically with mode 0600 (never readable
//    by others, even while being written; a missing directory is made 0700),
//    keeping every other key of the file as it was and writing through a
//    symlinked config.json; a configured credsStore/credHelper is used
//    instead (`store` / `erase` verbs) as docker does, leaving the file alone.
//    store() files under credential_key(host); erase() removes every entry
//    lookup() could have found for the host.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::registry {

struct Credentials {
    std::string username;
    std::string password;
    std::string identity_token;  // OAuth2 refresh token, when the helper gave one
};

std::filesystem::path docker_config_path();

// What `docker-credential-<helper> get` printed, read as lookup() reads it:
// nullopt when it names neither a user nor a secret; throws kiln::Error
// "<who> with something other than JSON" when it is not JSON.
std::optional<Credentials> parse_helper_answer(std::string_view out, const std::string& who);

// The key Docker uses for a registry in config.json "auths"
// ("https://index.docker.io/v1/" for docker.io, the host otherwise).
std::string credential_key(const std::string& domain);

class CredentialStore {
  public:
    explicit CredentialStore(std::filesystem::path config = docker_config_path());
    std::optional<Credentials> lookup(const std::string& domain) const;
    void store(const std::string& domain, const Credentials& c);
    // Returns false when there was nothing stored for domain.
    bool erase(const std::string& domain);
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace kiln::registry
