// `kiln pull`, `kiln push`, `kiln login`, `kiln logout`.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <mutex>

#include "base/error.h"
#include "base/reference.h"
#include "build/store_ops.h"
#include "cli/commands.h"
#include "cli/registry_options.h"
#include "cli/usage.h"
#include "content/image_store.h"
#include "content/state_root.h"
#include "registry/credentials.h"
#include "registry/pull.h"

namespace kiln::cli {

registry::ClientOptions client_options(const std::vector<std::string>& insecure_registries) {
    registry::ClientOptions o;
    o.insecure_registries = insecure_registries;
    o.cancel = &g_stop_build;  // Ctrl-C stops transfers and retries
    // Test-only: tests of failing registries need not wait out real backoff.
    if (const char* ms = std::getenv("KILN_REGISTRY_RETRY_BASE_MS")) {
        try {
            o.retry.base_delay = std::chrono::milliseconds(std::stoi(ms));
            o.retry.max_delay = o.retry.base_delay * 10;
        } catch (const std::exception&) {
            throw Error("KILN_REGISTRY_RETRY_BASE_MS=" + std::string(ms) + " is not a number");
        }
    }
    return o;
}

std::function<void(const std::string&)> stderr_logger(const std::string& prefix) {
    return [prefix](const std::string& line) {
        static std::mutex mu;
        std::lock_guard lock(mu);
        std::cerr << prefix << line << "\n";
    };
}

namespace {

// `docker login` takes a server, not a reference: "https://host:5000/v2/" → "host:5000".
std::string login_domain(std::string host) {
    for (const char* scheme : {"https://", "http://"})
        if (host.rfind(scheme, 0) == 0)
            host = host.substr(std::string(scheme).size());
    host = host.substr(0, host.find('/'));
    if (host.empty() || host == "index.docker.io" || host == "registry-1.docker.io")
        return "docker.io";
    return host;
}

}  // namespace

int pull(const std::optional<std::string>& root_flag, const std::string& ref_text,
         const std::string& platform, const RegistryArgs& args) {
    const auto ref = kiln::parse_reference(ref_text);
    content::StateRoot root(content::resolve_state_root(root_flag));
    registry::PullOptions o;
    o.client = client_options(args.insecure_registries);
    if (!platform.empty())
        o.platform = as_usage("--platform", [&] { return registry::parse_platform(platform); });
    o.log = stderr_logger("");
    auto r = build::pull_image(root, ref, o);
    // As docker pull: the digest the reference resolved to (the index's, for an index).
    std::cout << "Digest: " << (r.index_digest ? *r.index_digest : r.descriptor.digest).str()
              << "\n"
              << (r.up_to_date ? "Status: Image is up to date for "
                               : "Status: Downloaded newer image for ")
              << r.name << "\n";
    return 0;
}

int push(const std::optional<std::string>& root_flag, const std::string& name,
         const std::string& dest, const RegistryArgs& args) {
    std::cout << build::push_image(content::resolve_state_root(root_flag), name, dest,
                                   client_options(args.insecure_registries), stderr_logger(""))
              << "\n";
    return 0;
}

int login(const std::string& host, std::string username, std::string password, bool password_stdin,
          const RegistryArgs& args) {
    const std::string domain = login_domain(host);
    if (password_stdin) {
        if (!password.empty())
            throw UsageError("login: --password and --password-stdin are mutually exclusive");
        std::getline(std::cin, password);
        if (!password.empty() && password.back() == '\r')
            password.pop_back();
    }
    if (username.empty() && ::isatty(STDIN_FILENO) && !password_stdin) {
        std::cerr << "Username: ";
        std::getline(std::cin, username);
    }
    if (password.empty() && ::isatty(STDIN_FILENO) && !password_stdin) {
        if (char* p = ::getpass("Password: "))
            password = p;
    }
    if (username.empty() || password.empty())
        throw Error("login " + domain +
                    ": a username and a password are required (-u, -p or --password-stdin)");
    registry::Credentials c{username, password, ""};
    registry::Client client(domain, client_options(args.insecure_registries));
    client.check_login(c);
    registry::CredentialStore store;
    store.store(domain, c);
    std::cout << "Login Succeeded\n";
    return 0;
}

int logout(const std::string& host) {
    const std::string domain = login_domain(host);
    registry::CredentialStore store;
    if (!store.erase(domain))
        std::cout << "Not logged in to " << domain << "\n";
    else
        std::cout << "Removing login credentials for " << domain << "\n";
    return 0;
}

}  // namespace kiln::cli
