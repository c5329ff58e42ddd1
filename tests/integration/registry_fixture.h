// A real registry for integration tests: Debian's docker-registry (CNCF distribution
// 2.8) on 127.0.0.1, in plain-http, htpasswd, TLS or token-auth mode, plus a
// fault-injecting reverse proxy in front of it. Everything runs on loopback, with
// its storage, keys and certificates in a Scratch dir; nothing reaches the internet.
//
// Every object owns its child processes: the destructor stops them (SIGTERM, then
// SIGKILL after a grace period) and reaps them, and the Scratch dir goes with it.
// Constructors throw std::runtime_error (with the child's log) when a server does not
// come up; tests call RegistryFixture::missing_tools() first and GTEST_SKIP on a reason.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness.h"

namespace kiln::test {

// One child process, argv run without a shell, stdout and stderr appended to a log file.
// Stopped and reaped at scope exit (or by stop()); never left as a zombie.
class ChildProcess {
  public:
    ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // False once the child has exited (reaps it then; exit_status() says how).
    bool running();
    int exit_status() const { return status_; }
    // SIGTERM, up to `grace_ms` for it to exit, then SIGKILL; always reaps. Idempotent.
    void stop(int grace_ms = 3000);

  private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago (another process may take it
// before a server binds it).
int free_loopback_port();

enum class RegistryMode {
    plain,      // http, no auth
    basic,      // http, htpasswd (bcrypt) basic auth
    tls,        // https with a CA made at test time, no auth
    tls_basic,  // https + htpasswd
    token,      // http, bearer tokens from our own token server (the Docker Hub protocol)
};
std::string to_string(RegistryMode mode);

// What the token server gives a request that carries no credentials.
enum class AnonymousAccess {
    deny,  // 401 from the token server
    none,  // a token granting nothing, so the registry answers 401 (as Docker Hub does)
    pull,  // a token granting pull on the repositories asked for
};

// Which family of skopeo flags: inspect/delete/list-tags take --tls-verify, --cert-dir,
// --authfile; copy takes --src-… for its source and --dest-… for its destination.
enum class SkopeoRole { direct, source, dest };

struct RegistryOptions {
    RegistryMode mode = RegistryMode::plain;
    std::string username = "kiln";
    std::string password = "kiln-test-password";
    AnonymousAccess anonymous = AnonymousAccess::pull;  // token mode only
    int token_ttl_seconds = 300;                        // token mode only
};

// A docker config.json (the format of ~/.docker/config.json and skopeo's --authfile)
// holding `username:password` for `host`, or no auths when username is empty.
nlohmann::json docker_auth_config(const std::string& host, const std::string& username,
                                  const std::string& password);

class RegistryFixture {
  public:
    explicit RegistryFixture(RegistryOptions options = {});
    explicit RegistryFixture(RegistryMode mode) : RegistryFixture(RegistryOptions{mode}) {}
    ~RegistryFixture();
    RegistryFixture(const RegistryFixture&) = delete;
    RegistryFixture& operator=(const RegistryFixture&) = delete;

    // Why this mode cannot run here (a missing tool), or nullopt when it can.
    static std::optional<std::string> missing_tools(RegistryMode mode);

    RegistryMode mode() const { return options_.mode; }
    bool uses_tls() const;
    bool uses_auth() const;  // basic, tls_basic and token modes need credentials

    int port() const { return port_; }
    std::string host() const;  // "127.0.0.1:PORT", the registry part of a reference
    std::string url() const;   // "http://127.0.0.1:PORT" or "https://…"
    // "docker://HOST/REPO:TAG" for skopeo, e.g. skopeo_ref("fixture/bb:t").
    std::string skopeo_ref(const std::string& repo_and_tag) const;

    const std::string& username() const { return options_.username; }
    const std::string& password() const { return options_.password; }

    // TLS modes: the CA that signed the server certificate (PEM); empty otherwise.
    const std::filesystem::path& ca_cert() const { return ca_cert_; }
    // Docker's certs.d layout: certs_dir()/127.0.0.1:PORT/ca.crt (empty dir for http).
    std::filesystem::path certs_dir() const { return scratch_ / "certs.d"; }
    // The directory skopeo's --cert-dir wants: certs_dir()/host().
    std::filesystem::path host_cert_dir() const { return certs_dir() / host(); }
    // docker config JSON with this registry's credentials (no auths when no auth mode).
    std::filesystem::path authfile() const { return scratch_ / "auth.json"; }
    // A DOCKER_CONFIG dir whose config.json is the same as authfile().
    std::filesystem::path docker_config_dir() const { return scratch_ / "docker-config"; }
    // Flags that let skopeo talk to this registry with the fixture's credentials.
    std::vector<std::string> skopeo_args(SkopeoRole role = SkopeoRole::direct) const;

    // Token mode: the realm, and the token server's request log (one JSON object a
    // line: method, scopes, user (null when anonymous), result, access granted).
    std::string token_realm() const;
    std::filesystem::path token_log() const { return scratch_ / "token-requests.jsonl"; }
    std::vector<nlohmann::json> token_requests() const;

    std::filesystem::path storage_dir() const { return scratch_ / "storage"; }
    std::string registry_log() const;
    const std::filesystem::path& scratch_dir() const { return scratch_.path(); }

  private:
    void make_tls_material();
    void make_token_material();
    void start_token_server();
    void start_registry();
    void write_auth_files();

    RegistryOptions options_;
    Scratch scratch_;
    int port_ = 0;
    int token_port_ = 0;
    std::filesystem::path ca_cert_;
    // Declared last: destroyed first, so the servers stop before Scratch goes.
    std::unique_ptr<ChildProcess> token_server_;
    std::unique_ptr<ChildProcess> registry_;
};

struct FaultOptions {
    unsigned seed = 1;
    double status_rate = 0;  // answer one of status_codes, not forwarded
    std::vector<int> status_codes = {500, 503};
    double rate_429 = 0;           // 429 + Retry-After: 1, not forwarded
    double drop_rate = 0;          // headers + half the body, then RST
    double truncate_rate = 0;      // declared Content-Length, half sent, FIN
    double corrupt_blob_rate = 0;  // one byte of a blob GET body flipped
    int fail_first = 0;            // the first N matching requests fail
    int fail_first_status = 503;
    std::string path_regex = "";  // faults only for request paths matching this (Python re)
    std::string methods = "";     // faults only for these methods, e.g. "GET,HEAD"
    // Paces every request and response body to this many bytes/s per connection (0: no
    // limit), so that a transfer reliably outlasts a signal sent part way.
    long throttle_bytes_per_second = 0;
};

// tests/integration/fault_proxy.py in front of a plain-http registry (plain, basic or
// token mode; TLS upstreams are refused). Clients talk plain http to host(), which
// kiln and docker allow for loopback registries. The Host header passes through, so
// the registry's upload Location URLs point back at the proxy. The registry must
// outlive the proxy.
//
// What skopeo 1.9 survives through it (for choosing faults in tests of other
// clients): 429 on HEAD/GET (it waits Retry-After and retries the request), and a
// 429 to a PATCH (it restarts the whole copy after a back-off). It gives up at once
// on any 5xx, and on a 429 to POST/PUT; kiln is expected to do better.
class FaultProxy {
  public:
    FaultProxy(const RegistryFixture& registry, FaultOptions options = {});
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    static std::optional<std::string> missing_tools();

    int port() const { return port_; }
    std::string host() const;  // "127.0.0.1:PPORT"
    std::string url() const;   // "http://127.0.0.1:PPORT"
    std::string skopeo_ref(const std::string& repo_and_tag) const;

    // The registry's credentials, keyed by the proxy's host.
    std::filesystem::path authfile() const { return scratch_ / "auth.json"; }
    std::filesystem::path docker_config_dir() const { return scratch_ / "docker-config"; }
    std::vector<std::string> skopeo_args(SkopeoRole role = SkopeoRole::direct) const;

    // The proxy's counters: {"requests": N, "forwarded": N, "faults": {"status_503": N,
    // "status_429": N, "drop": N, "truncate": N, "corrupt": N, "fail_first": N, ...},
    // "log": [{"fault", "method", "path"}, ...]}.
    nlohmann::json stats() const;
    // How many faults of one kind (a key of stats()["faults"]), or of all injected kinds
    // when `kind` is empty ("upstream_error", a 502 for a registry that failed to
    // answer, is not injected and is only counted when asked for by name).
    int faults(const std::string& kind = "") const;
    // The proxy's stderr: one line per fault, and any Python traceback.
    std::string log() const;
    pid_t pid() const { return proc_ ? proc_->pid() : -1; }

  private:
    const RegistryFixture& registry_;
    Scratch scratch_;
    int port_ = 0;
    std::unique_ptr<ChildProcess> proc_;
};

}  // namespace kiln::test
