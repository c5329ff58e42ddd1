// libFuzzer target for the credentials kiln reads from files and programs it did
// not write (registry/credentials.h): a Docker config.json, read for a few
// registries, and what a credential helper answers to `get`. The first byte picks
// which. PATH is an empty directory, so a configured helper is "not installed".
// The properties: a malformed file or answer is kiln::Error; and where the file
// reads, storing a login and looking it up gives it back while every other key
// of the file stays as it was. Any other exception, a crash or a sanitizer report
// is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "registry/credentials.h"
#include "tests/fuzz/scratch_dir.h"

namespace fs = std::filesystem;

namespace {

[[noreturn]] void finding(const std::string& what) {
    std::fprintf(stderr, "credentials_fuzzer: %s\n", what.c_str());
    std::abort();
}

const fs::path& work_dir() {
    static const fs::path dir = [] {
        fs::path d = kiln::fuzz::scratch_dir("credentials-fuzz");
        fs::create_directories(d / "empty-path");
        ::setenv("PATH", (d / "empty-path").c_str(), 1);
        return d;
    }();
    return dir;
}

void fuzz_config(const std::string& text) {
    using kiln::registry::Credentials;
    using kiln::registry::CredentialStore;
    const fs::path config = work_dir() / "config.json";
    std::error_code ec;
    fs::remove(config, ec);
    std::ofstream(config, std::ios::binary) << text;
    CredentialStore store(config);
    for (const char* domain : {"docker.io", "registry.test:5000", "localhost"}) {
        try {
            (void)store.lookup(domain);
        } catch (const kiln::Error&) {
            return;  // refused: the file or its helper
        }
    }
    const Credentials login{"fuzz-user", "pa:ss", ""};
    try {
        store.store("registry.test:5000", login);
    } catch (const kiln::Error&) {
        return;  // a configured helper, which is not installed
    }
    std::optional<Credentials> back;
    try {
        back = store.lookup("registry.test:5000");
    } catch (const kiln::Error& e) {
        finding(std::string("what store() wrote does not read: ") + e.what());
    }
    if (!back || back->username != login.username || back->password != login.password)
        finding("a stored login does not read back");
    // Every other key of the file is kept.
    auto before = nlohmann::json::parse(text, nullptr, false);
    std::ifstream in(config);
    auto after = nlohmann::json::parse(in, nullptr, false);
    if (before.is_object() && after.is_object()) {
        before.erase("auths");
        after.erase("auths");
        if (before != after)
            finding("store() changed other keys of the file");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 0) {
        fuzz_config(text);
        return 0;
    }
    try {
        if (auto c = kiln::registry::parse_helper_answer(text, "fuzz helper")) {
            if (c->username.empty() && c->password.empty() && c->identity_token.empty())
                finding("an empty answer read as credentials");
        }
    } catch (const kiln::Error&) {
    }
    return 0;
}
