#include "registry_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <openssl/evp.h>

namespace kiln::test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- ChildProcess ------------------------------------------------------------------

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const fs::path& log) {
    if (argv.empty())
        throw std::invalid_argument("ChildProcess: empty argv");
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls (the test binary may have threads).
    std::vector<char*> cargv;
    for (const auto& a : argv)
        cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0)
        throw std::runtime_error("ChildProcess: cannot open " + log.string());
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
        // If the test binary dies without running destructors (a crash, SIGKILL), the
        // servers die with it rather than holding ports and temp dirs forever.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execvp(cargv[0], cargv.data());
        const char msg[] = "ChildProcess: exec failed\n";
        (void)!::write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    int err = errno;
    close(log_fd);
    close(null_fd);
    if (pid_ < 0)
        throw std::runtime_error(std::string("ChildProcess: fork failed: ") + strerror(err));
}

ChildProcess::~ChildProcess() {
    stop();
}

bool ChildProcess::running() {
    if (pid_ <= 0)
        return false;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0)
        return true;
    status_ = status;
    pid_ = -1;
    return false;
}

void ChildProcess::stop(int grace_ms) {
    if (!running())
        return;
    kill(pid_, SIGTERM);
    auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
    while (Clock::now() < deadline) {
        if (!running())
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    status_ = status;
    pid_ = -1;
}

// ---- helpers -----------------------------------------------------------------------

// A port that was free a moment ago. Another process may take it before the server
// binds it; start_registry() retries when that happens.
int free_loopback_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        throw std::runtime_error("bind to 127.0.0.1:0 failed");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

namespace {

// Sends a bare HTTP/1.0 GET /v2/ and returns what came back (empty when nothing
// listens). A TLS port answers this too: Go's TLS server replies 400 to plain HTTP,
// which is still proof that the registry is serving.
std::string probe(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return "";
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    std::string reply;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        std::string req =
            "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n";
        if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
            char buf[512];
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0)
                reply.assign(buf, static_cast<size_t>(n));
        }
    }
    close(fd);
    return reply;
}

std::string tail(const std::string& s, size_t n = 4000) {
    return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// Runs a tool and throws with its output when it fails.
Result must_run(const std::vector<std::string>& argv) {
    Result r = run(argv);
    if (r.exit_code != 0) {
        std::string cmd;
        for (const auto& a : argv)
            cmd += a + " ";
        throw std::runtime_error("failed: " + cmd + "\n" + r.out + r.err);
    }
    return r;
}

std::string base64(const std::string& in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

// The interpreter for the Python servers, or "" when there is none. Debian's own
// /usr/bin/python3 comes first: the scripts need only the standard library, and a
// version-manager shim on PATH (pyenv) costs a quarter second a start.
const std::string& python3() {
    static const std::string path = [] {
        for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"}) {
            if (access(p, X_OK) == 0)
                return std::string(p);
        }
        return run({"python3", "-c", ""}).exit_code == 0 ? std::string("python3") : "";
    }();
    return path;
}

// Waits for a Python server to write the port it bound (it binds port 0 itself, so
// there is no race to lose), or throws with its log if it dies first.
int wait_port_file(const fs::path& file, ChildProcess& child, const fs::path& log,
                   const std::string& what) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        if (fs::exists(file)) {
            int port = std::stoi(slurp(file));
            if (port > 0)
                return port;
        }
        if (!child.running())
            throw std::runtime_error(what + " exited at start:\n" + tail(slurp(log)));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error(what + " did not start within 10 s:\n" + tail(slurp(log)));
}

std::vector<std::string> skopeo_flags(SkopeoRole role, bool tls, const fs::path& cert_dir,
                                      bool auth, const fs::path& authfile) {
    std::string p = role == SkopeoRole::source ? "--src-"
                    : role == SkopeoRole::dest ? "--dest-"
                                               : "--";
    std::vector<std::string> args;
    if (tls) {
        args.push_back(p + "tls-verify=true");
        args.push_back(p + "cert-dir=" + cert_dir.string());
    } else {
        args.push_back(p + "tls-verify=false");
    }
    // --no-creds keeps skopeo from picking up whatever the machine's user has stored.
    args.push_back(auth ? p + "authfile=" + authfile.string() : p + "no-creds");
    return args;
}

void write_auth(const fs::path& authfile, const fs::path& config_dir, const std::string& host,
                const std::string& username, const std::string& password) {
    std::string json = docker_auth_config(host, username, password).dump(2) + "\n";
    write(authfile, json, 0600);
    write(config_dir / "config.json", json, 0600);
}

}  // namespace

nlohmann::json docker_auth_config(const std::string& host, const std::string& username,
                                  const std::string& password) {
    nlohmann::json auths = nlohmann::json::object();
    if (!username.empty())
        auths[host] = {{"auth", base64(username + ":" + password)}};
    return {{"auths", auths}};
}

std::string to_string(RegistryMode mode) {
    switch (mode) {
        case RegistryMode::plain:
            return "plain";
        case RegistryMode::basic:
            return "basic";
        case RegistryMode::tls:
            return "tls";
        case RegistryMode::tls_basic:
            return "tls+basic";
        case RegistryMode::token:
            return "token";
    }
    return "?";
}

// ---- RegistryFixture ---------------------------------------------------------------

std::optional<std::string> RegistryFixture::missing_tools(RegistryMode mode) {
    if (!have_tool("docker-registry"))
        return "docker-registry is not installed (Debian package docker-registry; "
               "tools/bootstrap.sh installs it)";
    if ((mode == RegistryMode::basic || mode == RegistryMode::tls_basic) && !have_tool("htpasswd"))
        return "htpasswd is not installed (Debian package apache2-utils)";
    if ((mode == RegistryMode::tls || mode == RegistryMode::tls_basic ||
         mode == RegistryMode::token) &&
        !have_tool("openssl"))
        return "openssl is not installed";
    if (mode == RegistryMode::token && python3().empty())
        return "python3 is not installed (the token server is a Python script)";
    return std::nullopt;
}

RegistryFixture::RegistryFixture(RegistryOptions options) : options_(std::move(options)) {
    if (auto why = missing_tools(options_.mode))
        throw std::runtime_error("RegistryFixture(" + to_string(options_.mode) + "): " + *why);
    fs::create_directories(storage_dir());
    fs::create_directories(certs_dir());
    if (uses_tls())
        make_tls_material();
    if (options_.mode == RegistryMode::basic || options_.mode == RegistryMode::tls_basic) {
        Result r = must_run({"htpasswd", "-Bbn", options_.username, options_.password});
        write(scratch_ / "htpasswd", r.out, 0600);
    }
    if (options_.mode == RegistryMode::token) {
        make_token_material();
        start_token_server();
    }
    start_registry();
    write_auth_files();
}

RegistryFixture::~RegistryFixture() {
    // Explicit order: the registry first (it is what clients talk to), then the
    // token server; Scratch is removed after both are reaped.
    registry_.reset();
    token_server_.reset();
}

bool RegistryFixture::uses_tls() const {
    return options_.mode == RegistryMode::tls || options_.mode == RegistryMode::tls_basic;
}

bool RegistryFixture::uses_auth() const {
    return options_.mode == RegistryMode::basic || options_.mode == RegistryMode::tls_basic ||
           options_.mode == RegistryMode::token;
}

std::string RegistryFixture::host() const {
    return "127.0.0.1:" + std::to_string(port_);
}

std::string RegistryFixture::url() const {
    return (uses_tls() ? "https://" : "http://") + host();
}

std::string RegistryFixture::skopeo_ref(const std::string& repo_and_tag) const {
    return "docker://" + host() + "/" + repo_and_tag;
}

std::vector<std::string> RegistryFixture::skopeo_args(SkopeoRole role) const {
    return skopeo_flags(role, uses_tls(), host_cert_dir(), uses_auth(), authfile());
}

std::string RegistryFixture::token_realm() const {
    return token_port_ ? "http://127.0.0.1:" + std::to_string(token_port_) + "/token" : "";
}

std::vector<nlohmann::json> RegistryFixture::token_requests() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(fs::exists(token_log()) ? slurp(token_log()) : "");
    for (std::string line; std::getline(in, line);) {
        if (!line.empty())
            out.push_back(nlohmann::json::parse(line));
    }
    return out;
}

std::string RegistryFixture::registry_log() const {
    return fs::exists(scratch_ / "registry.log") ? slurp(scratch_ / "registry.log") : "";
}

void RegistryFixture::make_tls_material() {
    // EC keys: a TLS server key needs no RSA, and P-256 generates in microseconds.
    const fs::path d = scratch_.path();
    must_run({"openssl",
              "req",
              "-x509",
              "-newkey",
              "ec",
              "-pkeyopt",
              "ec_paramgen_curve:prime256v1",
              "-nodes",
              "-keyout",
              (d / "ca.key").string(),
              "-out",
              (d / "ca.crt").string(),
              "-days",
              "2",
              "-subj",
              "/CN=kiln-test-ca",
              "-addext",
              "basicConstraints=critical,CA:TRUE",
              "-addext",
              "keyUsage=critical,keyCertSign,cRLSign"});
    must_run({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", (d / "server.key").string(), "-out", (d / "server.csr").string(),
              "-subj", "/CN=127.0.0.1"});
    write(d / "server.ext",
          "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
          "basicConstraints=CA:FALSE\n"
          "keyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=serverAuth\n");
    std::random_device rd;
    must_run({"openssl", "x509", "-req", "-in", (d / "server.csr").string(), "-CA",
              (d / "ca.crt").string(), "-CAkey", (d / "ca.key").string(), "-set_serial",
              std::to_string(rd() | 1u), "-days", "2", "-extfile", (d / "server.ext").string(),
              "-out", (d / "server.crt").string()});
    ca_cert_ = d / "ca.crt";
}

void RegistryFixture::make_token_material() {
    // Tokens are RS256 (what distribution and Docker Hub use), so this key is RSA.
    // The certificate is self-signed and is itself the registry's rootcertbundle: the
    // token's x5c chain is then just this certificate, which verifies against itself.
    const fs::path d = scratch_.path();
    must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
              (d / "token.key").string(), "-out", (d / "token.crt").string(), "-days", "2", "-subj",
              "/CN=kiln-test-token-signer"});
}

void RegistryFixture::start_token_server() {
    const fs::path d = scratch_.path();
    const char* anon = options_.anonymous == AnonymousAccess::deny   ? "deny"
                       : options_.anonymous == AnonymousAccess::none ? "none"
                                                                     : "pull";
    token_server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{python3(),     KILN_TOKEN_SERVER,
                                 "--key",       (d / "token.key").string(),
                                 "--cert",      (d / "token.crt").string(),
                                 "--issuer",    "kiln-test-issuer",
                                 "--service",   "kiln-test",
                                 "--username",  options_.username,
                                 "--password",  options_.password,
                                 "--anonymous", anon,
                                 "--ttl",       std::to_string(options_.token_ttl_seconds),
                                 "--port-file", (d / "token.port").string(),
                                 "--log",       token_log().string()},
        d / "token-server.log");
    token_port_ =
        wait_port_file(d / "token.port", *token_server_, d / "token-server.log", "token server");
}

void RegistryFixture::start_registry() {
    const fs::path d = scratch_.path();
    const fs::path log = d / "registry.log";
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = free_loopback_port();
        std::ostringstream y;
        y << "version: 0.1\n"
          << "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
          << "storage:\n  filesystem:\n    rootdirectory: " << storage_dir().string() << "\n"
          << "  delete:\n    enabled: true\n"
          // A fixed secret: otherwise the registry warns and makes a random one.
          << "http:\n  addr: 127.0.0.1:" << port_ << "\n  secret: kiln-test-secret\n";
        if (uses_tls())
            y << "  tls:\n    certificate: " << (d / "server.crt").string()
              << "\n    key: " << (d / "server.key").string() << "\n";
        if (options_.mode == RegistryMode::basic || options_.mode == RegistryMode::tls_basic)
            y << "auth:\n  htpasswd:\n    realm: kiln-test\n    path: " << (d / "htpasswd").string()
              << "\n";
        if (options_.mode == RegistryMode::token)
            y << "auth:\n  token:\n    realm: " << token_realm()
              << "\n    service: kiln-test\n    issuer: kiln-test-issuer\n"
              << "    rootcertbundle: " << (d / "token.crt").string() << "\n";
        write(d / "config.yml", y.str());
        write(log, "");
        registry_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{"docker-registry", "serve", (d / "config.yml").string()}, log);
        auto deadline = Clock::now() + std::chrono::seconds(10);
        bool lost_race = false;
        while (Clock::now() < deadline) {
            if (!registry_->running()) {
                std::string text = slurp(log);
                if (text.find("address already in use") != std::string::npos) {
                    lost_race = true;
                    break;
                }
                throw std::runtime_error("docker-registry exited at start:\n" + tail(text));
            }
            // Only our registry answers /v2/ with this header (or, over TLS, Go's
            // reply to plain HTTP); another process on a stolen port would not.
            std::string reply = probe(port_);
            if (reply.find("Docker-Distribution-Api-Version") != std::string::npos ||
                (uses_tls() && reply.rfind("HTTP/", 0) == 0)) {
                if (registry_->running())
                    return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (!lost_race) {
            registry_.reset();
            throw std::runtime_error("docker-registry did not answer GET /v2/ within 10 s:\n" +
                                     tail(slurp(log)));
        }
        registry_.reset();
    }
    throw std::runtime_error("docker-registry: no free port after 5 attempts");
}

void RegistryFixture::write_auth_files() {
    write_auth(authfile(), docker_config_dir(), host(), uses_auth() ? options_.username : "",
               options_.password);
    if (uses_tls()) {
        fs::create_directories(host_cert_dir());
        fs::copy_file(ca_cert_, host_cert_dir() / "ca.crt", fs::copy_options::overwrite_existing);
    }
}

// ---- FaultProxy --------------------------------------------------------------------

std::optional<std::string> FaultProxy::missing_tools() {
    if (python3().empty())
        return "python3 is not installed (the fault proxy is a Python script)";
    return std::nullopt;
}

FaultProxy::FaultProxy(const RegistryFixture& registry, FaultOptions o) : registry_(registry) {
    if (registry.uses_tls())
        throw std::invalid_argument("FaultProxy forwards plain http only; use a non-TLS mode");
    if (auto why = missing_tools())
        throw std::runtime_error("FaultProxy: " + *why);
    const fs::path d = scratch_.path();
    std::string codes;
    for (int c : o.status_codes)
        codes += (codes.empty() ? "" : ",") + std::to_string(c);
    auto rate = [](double r) {
        std::ostringstream s;
        s << r;
        return s.str();
    };
    std::vector<std::string> argv = {python3(),
                                     KILN_FAULT_PROXY,
                                     "--upstream",
                                     registry.host(),
                                     "--port-file",
                                     (d / "proxy.port").string(),
                                     "--stats",
                                     (d / "stats.json").string(),
                                     "--seed",
                                     std::to_string(o.seed),
                                     "--status-rate",
                                     rate(o.status_rate),
                                     "--status-codes",
                                     codes,
                                     "--rate-429",
                                     rate(o.rate_429),
                                     "--drop-rate",
                                     rate(o.drop_rate),
                                     "--truncate-rate",
                                     rate(o.truncate_rate),
                                     "--corrupt-blob-rate",
                                     rate(o.corrupt_blob_rate),
                                     "--fail-first",
                                     std::to_string(o.fail_first),
                                     "--fail-first-status",
                                     std::to_string(o.fail_first_status)};
    if (!o.path_regex.empty()) {
        argv.push_back("--path-regex");
        argv.push_back(o.path_regex);
    }
    if (!o.methods.empty()) {
        argv.push_back("--methods");
        argv.push_back(o.methods);
    }
    if (o.throttle_bytes_per_second > 0) {
        argv.push_back("--throttle");
        argv.push_back(std::to_string(o.throttle_bytes_per_second));
    }
    proc_ = std::make_unique<ChildProcess>(argv, d / "proxy.log");
    port_ = wait_port_file(d / "proxy.port", *proc_, d / "proxy.log", "fault proxy");
    write_auth(authfile(), docker_config_dir(), host(),
               registry.uses_auth() ? registry.username() : "", registry.password());
}

FaultProxy::~FaultProxy() {
    proc_.reset();  // before Scratch, which holds its log and stats
}

std::string FaultProxy::host() const {
    return "127.0.0.1:" + std::to_string(port_);
}

std::string FaultProxy::url() const {
    return "http://" + host();
}

std::string FaultProxy::skopeo_ref(const std::string& repo_and_tag) const {
    return "docker://" + host() + "/" + repo_and_tag;
}

std::vector<std::string> FaultProxy::skopeo_args(SkopeoRole role) const {
    return skopeo_flags(role, false, {}, registry_.uses_auth(), authfile());
}

nlohmann::json FaultProxy::stats() const {
    const fs::path f = scratch_ / "stats.json";
    if (!fs::exists(f))
        return {{"requests", 0}, {"forwarded", 0}, {"faults", nlohmann::json::object()}};
    return nlohmann::json::parse(slurp(f));
}

int FaultProxy::faults(const std::string& kind) const {
    const nlohmann::json counts = stats()["faults"];
    if (!kind.empty())
        return counts.value(kind, 0);
    int total = 0;
    for (const auto& [k, v] : counts.items()) {
        if (k != "upstream_error")
            total += v.get<int>();
    }
    return total;
}

std::string FaultProxy::log() const {
    const fs::path f = scratch_ / "proxy.log";
    return fs::exists(f) ? slurp(f) : "";
}

}  // namespace kiln::test
