// The default seccomp profile and its translation into the runtime spec (see seccomp.h).
// The rules follow moby's profiles/seccomp/seccomp_linux.go (setupSeccomp) and
// containers/common's pkg/seccomp, which share them.
#include "sandbox/seccomp.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sandbox/embedded_seccomp_profile.h"  // generated into the build dir (CMakeLists.txt)
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The architecture kiln is built for, in libseccomp's native names (moby's goToNative).
constexpr const char* native_arch() {
#if defined(__x86_64__) && !defined(__ILP32__)
    return "amd64";
#elif defined(__i386__)
    return "x86";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__powerpc64__)
    return "ppc64";
#elif defined(__powerpc__)
    return "ppc";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__s390__)
    return "s390";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#elif defined(__loongarch64)
    return "loong64";
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "mipsel64";
#elif defined(__mips64)
    return "mips64";
#elif defined(__mips__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "mipsle";
#else
    return "";  // x32 and others: no archMap entry, as moby on a GOARCH it does not know
#endif
}

// Native name → the SCMP_ARCH_* an archMap entry is keyed by (moby's nativeToSeccomp).
std::string seccomp_arch_of(const std::string& native) {
    static const std::vector<std::pair<std::string, std::string>> table = {
        {"x86", "SCMP_ARCH_X86"},           {"amd64", "SCMP_ARCH_X86_64"},
        {"arm", "SCMP_ARCH_ARM"},           {"arm64", "SCMP_ARCH_AARCH64"},
        {"mips64", "SCMP_ARCH_MIPS64"},     {"mips64n32", "SCMP_ARCH_MIPS64N32"},
        {"mipsel64", "SCMP_ARCH_MIPSEL64"}, {"mips3l64n32", "SCMP_ARCH_MIPSEL64N32"},
        {"mipsle", "SCMP_ARCH_MIPSEL"},     {"ppc", "SCMP_ARCH_PPC"},
        {"ppc64", "SCMP_ARCH_PPC64"},       {"ppc64le", "SCMP_ARCH_PPC64LE"},
        {"riscv64", "SCMP_ARCH_RISCV64"},   {"s390", "SCMP_ARCH_S390"},
        {"s390x", "SCMP_ARCH_S390X"},       {"loong64", "SCMP_ARCH_LOONGARCH64"},
    };
    for (const auto& [n, s] : table) {
        if (n == native) {
            return s;
        }
    }
    return "";
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

// Reads one profile, with messages that say where in it something is wrong.
class Reader {
  public:
    explicit Reader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& where, const std::string& why) const {
        throw SandboxError(source_ + ": " + (where.empty() ? "" : where + ": ") + why);
    }

    // The member `key` of obj, or nullptr when it is absent or null (Go's zero value).
    static const json* member(const json& obj, const char* key) {
        auto it = obj.find(key);
        return it == obj.end() || it->is_null() ? nullptr : &*it;
    }

    const json& object(const json& j, const std::string& where) const {
        if (!j.is_object()) {
            fail(where, "must be a JSON object");
        }
        return j;
    }

    std::string string(const json& obj, const char* key, const std::string& where) const {
        const json* v = member(obj, key);
        if (!v) {
            return "";
        }
        if (!v->is_string()) {
            fail(where, std::string("\"") + key + "\" must be a string");
        }
        return v->get<std::string>();
    }

    std::vector<std::string> strings(const json& obj, const char* key,
                                     const std::string& where) const {
        std::vector<std::string> out;
        const json* v = member(obj, key);
        if (!v) {
            return out;
        }
        if (!v->is_array()) {
            fail(where, std::string("\"") + key + "\" must be a list of strings");
        }
        for (const auto& s : *v) {
            if (!s.is_string()) {
                fail(where, std::string("\"") + key + "\" must be a list of strings");
            }
            out.push_back(s.get<std::string>());
        }
        return out;
    }

    std::optional<uint64_t> unsigned_number(const json& obj, const char* key,
                                            const std::string& where) const {
        const json* v = member(obj, key);
        if (!v) {
            return std::nullopt;
        }
        // The parser makes every non-negative integer unsigned; a json built in code may hold
        // a signed one.
        if (v->is_number_unsigned()) {
            return v->get<uint64_t>();
        }
        if (!v->is_number_integer() || v->get<int64_t>() < 0) {
            fail(where, std::string("\"") + key + "\" must be a non-negative integer");
        }
        return static_cast<uint64_t>(v->get<int64_t>());
    }

    const json* array(const json& obj, const char* key, const std::string& where) const {
        const json* v = member(obj, key);
        if (v && !v->is_array()) {
            fail(where, std::string("\"") + key + "\" must be a list");
        }
        return v;
    }

    // moby's KernelVersion: "<kernel>.<major>" (anything after is ignored, as Sscanf does);
    // "" is no requirement.
    std::optional<std::pair<unsigned, unsigned>> min_kernel(const json& cond,
                                                            const std::string& where) const {
        std::string v = string(cond, "minKernel", where);
        if (v.empty()) {
            return std::nullopt;
        }
        unsigned kernel = 0, major = 0;
        if (std::sscanf(v.c_str(), "%u.%u", &kernel, &major) != 2 ||
            !std::isdigit(static_cast<unsigned char>(v[0]))) {
            fail(where, "invalid kernel version \"" + v + "\", expected \"<kernel>.<major>\"");
        }
        return std::pair{kernel, major};
    }

  private:
    std::string source_;
};

bool kernel_at_least(const SeccompHost& host, std::pair<unsigned, unsigned> min) {
    return host.kernel > min.first || (host.kernel == min.first && host.major >= min.second);
}

// One "args" entry as the runtime spec has it (valueTwo omitted when 0, as Go's omitempty).
json translate_arg(const Reader& r, const json& arg, const std::string& where) {
    r.object(arg, where);
    auto index = r.unsigned_number(arg, "index", where);
    auto value = r.unsigned_number(arg, "value", where);
    auto value_two = r.unsigned_number(arg, "valueTwo", where);
    std::string op = r.string(arg, "op", where);
    if (op.empty()) {
        r.fail(where, "\"op\" is missing");
    }
    json out = {{"index", index.value_or(0)}, {"value", value.value_or(0)}, {"op", op}};
    if (value_two.value_or(0) != 0) {
        out["valueTwo"] = *value_two;
    }
    return out;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the user needs the rest.
std::string without_exception_tag(const std::string& what) {
    if (!what.empty() && what[0] == '[') {
        auto close = what.find("] ");
        if (close != std::string::npos) {
            return what.substr(close + 2);
        }
    }
    return what;
}

struct LoadedProfile {
    json profile;
    std::string source;  // for messages: the file, or that it is kiln's own copy
};

const LoadedProfile& loaded_profile() {
    // A throw leaves the static uninitialised, so a broken host file is reported on every
    // call rather than replaced by the embedded copy behind the user's back.
    static const LoadedProfile loaded = [] {
        if (auto host = load_seccomp_profile(kSeccompProfilePath)) {
            return LoadedProfile{std::move(*host),
                                 std::string("seccomp profile ") + kSeccompProfilePath};
        }
        return LoadedProfile{json::parse(embedded_seccomp_profile()),
                             "kiln's built-in seccomp profile"};
    }();
    return loaded;
}

}  // namespace

SeccompHost SeccompHost::current() {
    static const SeccompHost host = [] {
        SeccompHost h;
        h.arch = native_arch();
        struct utsname u {};
        if (::uname(&u) == 0) {
            std::sscanf(u.release, "%u.%u", &h.kernel, &h.major);
        }
        return h;
    }();
    return host;
}

json translate_seccomp_profile(const json& profile, const std::vector<std::string>& bounding_caps,
                               const SeccompHost& host, const std::string& source) {
    Reader r(source);
    r.object(profile, "");
    std::string default_action = r.string(profile, "defaultAction", "");
    const json* syscalls = r.array(profile, "syscalls", "");
    if (default_action.empty() && (!syscalls || syscalls->empty())) {
        return nullptr;  // moby: "no default action specified, no syscalls listed"
    }

    json out = {{"defaultAction", default_action}};
    if (auto ret = r.unsigned_number(profile, "defaultErrnoRet", "")) {
        out["defaultErrnoRet"] = *ret;
    }

    std::vector<std::string> architectures = r.strings(profile, "architectures", "");
    const json* arch_map = r.array(profile, "archMap", "");
    if (!architectures.empty() && arch_map && !arch_map->empty()) {
        r.fail("", "'architectures' and 'archMap' were specified, use either one");
    }
    if (arch_map) {
        const std::string wanted = seccomp_arch_of(host.arch);
        for (size_t i = 0; i < arch_map->size() && !wanted.empty(); ++i) {
            const std::string where = "archMap[" + std::to_string(i) + "]";
            const json& entry = r.object((*arch_map)[i], where);
            if (r.string(entry, "architecture", where) == wanted) {
                architectures.push_back(wanted);
                for (auto& sub : r.strings(entry, "subArchitectures", where)) {
                    architectures.push_back(sub);
                }
                break;
            }
        }
    }
    if (!architectures.empty()) {
        out["architectures"] = architectures;
    }
    if (auto flags = r.strings(profile, "flags", ""); !flags.empty()) {
        out["flags"] = flags;
    }
    for (const char* key : {"listenerPath", "listenerMetadata"}) {
        if (auto v = r.string(profile, key, ""); !v.empty()) {
            out[key] = v;
        }
    }

    json rules = json::array();
    for (size_t i = 0; syscalls && i < syscalls->size(); ++i) {
        const std::string where = "syscalls[" + std::to_string(i) + "]";
        const json& call = r.object((*syscalls)[i], where);

        std::vector<std::string> names = r.strings(call, "names", where);
        std::string name = r.string(call, "name", where);
        if (!name.empty()) {
            if (!names.empty()) {
                r.fail(where, "'name' and 'names' were specified, use either one");
            }
            names = {name};
        }

        if (const json* ex = Reader::member(call, "excludes")) {
            const std::string w = where + ".excludes";
            r.object(*ex, w);
            if (contains(r.strings(*ex, "arches", w), host.arch)) {
                continue;
            }
            auto caps = r.strings(*ex, "caps", w);
            if (std::any_of(caps.begin(), caps.end(),
                            [&](const std::string& c) { return contains(bounding_caps, c); })) {
                continue;
            }
            if (auto min = r.min_kernel(*ex, w); min && kernel_at_least(host, *min)) {
                continue;
            }
        }
        if (const json* in = Reader::member(call, "includes")) {
            const std::string w = where + ".includes";
            r.object(*in, w);
            auto arches = r.strings(*in, "arches", w);
            if (!arches.empty() && !contains(arches, host.arch)) {
                continue;
            }
            auto caps = r.strings(*in, "caps", w);
            if (!std::all_of(caps.begin(), caps.end(),
                             [&](const std::string& c) { return contains(bounding_caps, c); })) {
                continue;
            }
            if (auto min = r.min_kernel(*in, w); min && !kernel_at_least(host, *min)) {
                continue;
            }
        }

        std::string action = r.string(call, "action", where);
        if (action.empty()) {
            r.fail(where, "\"action\" is missing");
        }
        json rule = {{"names", names}, {"action", action}};
        if (auto ret = r.unsigned_number(call, "errnoRet", where)) {
            rule["errnoRet"] = *ret;
        }
        if (const json* args = r.array(call, "args", where); args && !args->empty()) {
            json out_args = json::array();
            for (size_t a = 0; a < args->size(); ++a) {
                out_args.push_back(
                    translate_arg(r, (*args)[a], where + ".args[" + std::to_string(a) + "]"));
            }
            rule["args"] = std::move(out_args);
        }
        rules.push_back(std::move(rule));
    }
    if (!rules.empty()) {
        out["syscalls"] = std::move(rules);
    }
    return out;
}

std::optional<json> load_seccomp_profile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        std::error_code ec;
        if (!fs::exists(fs::symlink_status(path, ec)) && err == ENOENT) {
            return std::nullopt;
        }
        throw SandboxError("seccomp profile " + path.string() +
                           " cannot be read: " + errno_text(err));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw SandboxError("seccomp profile " + path.string() + " cannot be read");
    }
    try {
        return json::parse(text.str());
    } catch (const json::exception& e) {
        throw SandboxError("seccomp profile " + path.string() +
                           " is not valid JSON: " + without_exception_tag(e.what()));
    }
}

std::string_view embedded_seccomp_profile() {
    return {generated::kEmbeddedSeccompProfile, sizeof generated::kEmbeddedSeccompProfile - 1};
}

json default_seccomp(const std::vector<std::string>& bounding_caps) {
    const LoadedProfile& p = loaded_profile();
    return translate_seccomp_profile(p.profile, bounding_caps, SeccompHost::current(), p.source);
}

}  // namespace kiln::sandbox
