// Registry credentials in Docker's config file, read and written the way
// `docker login` does, so kiln, docker, buildx, podman and skopeo share them.
//
// Contract:
//  - The file is $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json.
//  - lookup(): `credHelpers[host]` wins, then `credsStore`, both run as
//    `docker-credential-<helper> get` with the server on stdin (JSON answer
//    {"Username","Secret"}); then `auths[host].auth` (base64 "user:pass") or
//    its "username"/"password" fields; "identitytoken" is returned as such.
//    docker.io is looked up under "https://index.docker.io/v1/" and "docker.io".
//    A missing file means no credentials; a malformed one is an error naming it.
//  - store()/erase() rewrite the file atomically with mode 0600, keeping every
//    other key of the file as it was; a configured credsStore/credHelper is
//    used instead (`store` / `erase` verbs) as docker does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace kiln::registry {

struct Credentials {
    std::string username;
    std::string password;
    std::string identity_token;  // OAuth2 refresh token, when the helper gave one
};

std::filesystem::path docker_config_path();

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
