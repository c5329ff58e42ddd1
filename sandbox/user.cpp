// USER resolution against the image's /etc/passwd and /etc/group, by the rules of runc's
// libcontainer/user.GetExecUser, which Docker and BuildKit use (see sandbox.h).
#include <sys/stat.h>

#include <charconv>
#include <limits>
#include <optional>
#include <sstream>

#include "sandbox/detail.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

namespace {

constexpr uint64_t kMaxId = (uint64_t{1} << 31) - 1;  // runc's range for ids

struct PasswdEntry {
    std::string name;
    uint32_t uid = 0, gid = 0;
};

struct GroupEntry {
    std::string name;
    uint32_t gid = 0;
    std::vector<std::string> members;
};

std::string trim(std::string_view s) {
    const char* ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) {
        return {};
    }
    auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t pos = s.find(sep, start);
        out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) {
            return out;
        }
        start = pos + 1;
    }
}

// A decimal id, or nothing when s is not one. Out of range → SandboxError (as runc).
std::optional<uint64_t> parse_number(std::string_view s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc()) {
        return std::numeric_limits<uint64_t>::max();
    }
    return v;
}

// An id in the USER spec: nothing when not numeric (then it is a name); out of range is an
// error (as runc).
std::optional<uint32_t> parse_spec_id(std::string_view s) {
    auto v = parse_number(s);
    if (!v) {
        return std::nullopt;
    }
    if (*v > kMaxId) {
        throw SandboxError("uids and gids must be in range 0-" + std::to_string(kMaxId));
    }
    return static_cast<uint32_t>(*v);
}

// An id in /etc/passwd or /etc/group: nothing when not a valid id.
std::optional<uint32_t> parse_file_id(std::string_view s) {
    auto v = parse_number(s);
    if (!v || *v > kMaxId) {
        return std::nullopt;
    }
    return static_cast<uint32_t>(*v);
}

// Reads rootfs/etc/<name> (resolved inside rootfs); nothing when it does not exist.
std::optional<std::string> read_etc(const std::filesystem::path& rootfs, const char* name) {
    return detail::read_in_root(rootfs, std::string("/etc/") + name);
}

// Lines that are blank, comments or NIS markers, or whose ids are not numbers, are
// skipped (runc would read a bad id as 0, i.e. root; skipping is the safe reading).
std::vector<PasswdEntry> parse_passwd(const std::string& text) {
    std::vector<PasswdEntry> out;
    std::istringstream in(text);
    std::string raw;
    while (std::getline(in, raw)) {
        std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') {
            continue;
        }
        auto f = split(line, ':');
        if (f.size() < 4) {
            continue;
        }
        auto uid = parse_file_id(f[2]);
        auto gid = parse_file_id(f[3]);
        if (!uid || !gid) {
            continue;
        }
        out.push_back({f[0], *uid, *gid});
    }
    return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
    std::vector<GroupEntry> out;
    std::istringstream in(text);
    std::string raw;
    while (std::getline(in, raw)) {
        std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') {
            continue;
        }
        auto f = split(line, ':');
        if (f.size() < 3) {
            continue;
        }
        auto gid = parse_file_id(f[2]);
        if (!gid) {
            continue;
        }
        GroupEntry g{f[0], *gid, {}};
        if (f.size() >= 4) {
            for (auto& m : split(f[3], ',')) {
                std::string t = trim(m);
                if (!t.empty()) {
                    g.members.push_back(std::move(t));
                }
            }
        }
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace

User resolve_user(const std::filesystem::path& rootfs, const std::string& spec) {
    std::string user_arg = spec, group_arg;
    if (auto colon = spec.find(':'); colon != std::string::npos) {
        user_arg = spec.substr(0, colon);
        group_arg = spec.substr(colon + 1);
    }
    const std::optional<uint32_t> uid_arg = parse_spec_id(user_arg);
    const std::optional<uint32_t> gid_arg = parse_spec_id(group_arg);

    User u;  // root unless the spec says otherwise
    std::string matched_name;

    std::optional<std::string> passwd = read_etc(rootfs, "passwd");
    if (passwd) {
        for (const auto& e : parse_passwd(*passwd)) {
            bool match = user_arg.empty() ? e.uid == 0
                         : uid_arg        ? e.uid == *uid_arg
                                          : e.name == user_arg;
            if (match) {
                matched_name = e.name;
                u.uid = e.uid;
                u.gid = e.gid;
                break;
            }
        }
    }
    if (matched_name.empty() && !user_arg.empty()) {
        // Without an entry, only a numeric uid is valid (its gid stays 0).
        if (!uid_arg) {
            throw SandboxError("unable to find user " + user_arg +
                               ": no matching entries in passwd file");
        }
        u.uid = *uid_arg;
    }

    if (group_arg.empty() && matched_name.empty()) {
        return u;
    }
    std::vector<GroupEntry> groups;
    if (auto text = read_etc(rootfs, "group")) {
        groups = parse_group(*text);
    }
    if (!group_arg.empty()) {
        // Explicit group: it sets the gid, and there are no supplementary groups.
        for (const auto& g : groups) {
            if (gid_arg ? g.gid == *gid_arg : g.name == group_arg) {
                u.gid = g.gid;
                return u;
            }
        }
        if (!gid_arg) {
            throw SandboxError("unable to find group " + group_arg +
                               ": no matching entries in group file");
        }
        u.gid = *gid_arg;
        return u;
    }
    for (const auto& g : groups) {
        for (const auto& m : g.members) {
            if (m == matched_name) {
                u.additional_gids.push_back(g.gid);
                break;
            }
        }
    }
    return u;
}

}  // namespace kiln::sandbox
