#include "build/run_settings.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "base/error.h"
#include "base/limits.h"

namespace kiln::build {

namespace {

bool is_ip(const std::string& text) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool is_host_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
}

std::pair<std::string, std::string> parse_host(const std::string& text) {
    const auto sep = text.find_first_of(":=");
    const std::string name = sep == std::string::npos ? text : text.substr(0, sep);
    std::string ip = sep == std::string::npos ? "" : text.substr(sep + 1);
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']')
        ip = ip.substr(1, ip.size() - 2);  // [::1]
    if (ip == "host-gateway")
        throw UsageError("--add-host " + text +
                         ": host-gateway is not supported (a RUN's private network has no "
                         "gateway to the host; give the address)");
    if (!is_host_name(name) || !is_ip(ip))
        throw UsageError("invalid --add-host \"" + text + "\" (want NAME:IP)");
    return {name, ip};
}

// Docker's ulimit names (github.com/docker/go-units ulimit.go) as OCI names them.
const std::array<std::pair<const char*, const char*>, 16> kUlimits = {{
    {"as", "RLIMIT_AS"},
    {"core", "RLIMIT_CORE"},
    {"cpu", "RLIMIT_CPU"},
    {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},
    {"locks", "RLIMIT_LOCKS"},
    {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"},
    {"nice", "RLIMIT_NICE"},
    {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},
    {"rss", "RLIMIT_RSS"},
    {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},
    {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},
}};

std::uint64_t limit_value(const std::string& text, const std::string& spec) {
    if (text == "-1" || text == "unlimited")
        return UINT64_MAX;  // RLIM_INFINITY
    if (text.empty() ||
        !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        text.size() > 19)
        throw UsageError("invalid --ulimit \"" + spec + "\": \"" + text +
                         "\" is not a number (or -1, unlimited)");
    return std::stoull(text);
}

sandbox::Rlimit parse_ulimit(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos)
        throw UsageError("invalid --ulimit \"" + text + "\" (want TYPE=SOFT[:HARD])");
    const std::string name = text.substr(0, eq);
    auto known = std::find_if(kUlimits.begin(), kUlimits.end(),
                              [&](const auto& u) { return name == u.first; });
    if (known == kUlimits.end()) {
        std::string names;
        for (const auto& u : kUlimits)
            names += (names.empty() ? "" : ", ") + std::string(u.first);
        throw UsageError("invalid --ulimit \"" + text + "\": unknown type \"" + name +
                         "\" (want one of " + names + ")");
    }
    const std::string values = text.substr(eq + 1);
    const auto colon = values.find(':');
    sandbox::Rlimit r;
    r.type = known->second;
    r.soft = limit_value(values.substr(0, colon), text);
    r.hard = colon == std::string::npos ? r.soft : limit_value(values.substr(colon + 1), text);
    if (r.soft > r.hard)
        throw UsageError("invalid --ulimit \"" + text + "\": the soft limit is above the hard one");
    return r;
}

}  // namespace

sandbox::BuildSettings parse_run_settings(const std::vector<std::string>& add_hosts,
                                          const std::string& shm_size,
                                          const std::vector<std::string>& ulimits) {
    sandbox::BuildSettings s;
    for (const auto& h : add_hosts)
        s.extra_hosts.push_back(parse_host(h));
    if (!shm_size.empty()) {
        try {
            s.shm_size = parse_size(shm_size);
        } catch (const Error& e) {
            throw UsageError(std::string("--shm-size: ") + e.what());
        }
        if (s.shm_size == 0)
            throw UsageError("--shm-size: /dev/shm cannot be empty");
    }
    for (const auto& u : ulimits) {
        auto r = parse_ulimit(u);
        // A type given again replaces the earlier one, as Docker's map does.
        auto same = std::find_if(s.ulimits.begin(), s.ulimits.end(),
                                 [&](const sandbox::Rlimit& o) { return o.type == r.type; });
        if (same != s.ulimits.end())
            *same = r;
        else
            s.ulimits.push_back(r);
    }
    return s;
}

}  // namespace kiln::build
