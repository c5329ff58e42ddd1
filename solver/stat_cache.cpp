#include "solver/stat_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/unique_fd.h"
#include "base/utf8.h"
#include "content/atomic_file.h"

namespace kiln::solver {

namespace {

// The file's layout: {"version": 2, "entries": {encoded key: [dev, ino, size,
// mtime_ns, ctime_ns, digest]}}. Version 1 was the bare "entries" object with
// raw keys, which JSON can hold only when they are UTF-8.
constexpr int kVersion = 2;

long long ns(const struct timespec& t) {
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

}  // namespace

std::string StatCache::encode_key(std::string_view key) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(key.size());
    auto escape = [&](unsigned char b) {
        out += '%';
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
    };
    for (std::size_t i = 0; i < key.size();) {
        auto r = utf8::decode(key, i);
        if (!r.ok || key[i] == '%') {
            escape(static_cast<unsigned char>(key[i]));
            ++i;
            continue;
        }
        out.append(key.substr(i, r.width));
        i += r.width;
    }
    return out;
}

std::optional<std::string> StatCache::decode_key(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size() || !is_hex_digit(text[i + 1]) || !is_hex_digit(text[i + 2]))
            return std::nullopt;
        out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        i += 2;
    }
    return out;
}

StatCache::StatCache(std::filesystem::path file) : file_(std::move(file)) {
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec))
        return;
    try {
        auto j = nlohmann::json::parse(read_file(file_));
        // Version 1 (a bare object of raw keys) is still read; any other
        // version is a cache this build does not understand: start afresh.
        const bool v1 = !j.contains("version");
        if (!v1 && j.at("version") != kVersion)
            return;
        for (const auto& [k, v] : (v1 ? j : j.at("entries")).items()) {
            auto key = v1 ? std::optional<std::string>(k) : decode_key(k);
            if (!key)
                continue;
            Entry e{v.at(0).get<unsigned long long>(), v.at(1).get<unsigned long long>(),
                    v.at(2).get<unsigned long long>(), v.at(3).get<long long>(),
                    v.at(4).get<long long>(),          v.at(5).get<std::string>()};
            entries_[*key] = e;
        }
    } catch (const std::exception&) {
        entries_.clear();  // a damaged cache is only a slower build
    }
}

content::Digest StatCache::digest(const std::string& key, const std::filesystem::path& path,
                                  const struct stat& st) {
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (it != entries_.end()) {
            const Entry& e = it->second;
            if (e.dev == st.st_dev && e.ino == st.st_ino &&
                e.size == static_cast<unsigned long long>(st.st_size) &&
                e.mtime_ns == ns(st.st_mtim) && e.ctime_ns == ns(st.st_ctim))
                return content::Digest::parse(e.digest);
        }
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd)
        throw errno_error("cannot read " + path.string());
    content::Sha256 h;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw errno_error("cannot read " + path.string());
        if (n == 0)
            break;
        h.update(buf, static_cast<size_t>(n));
    }
    auto d = h.finish();
    std::lock_guard lock(mu_);
    entries_[key] = {static_cast<unsigned long long>(st.st_dev),
                     static_cast<unsigned long long>(st.st_ino),
                     static_cast<unsigned long long>(st.st_size),
                     ns(st.st_mtim),
                     ns(st.st_ctim),
                     d.str()};
    dirty_ = true;
    ++reads_;
    return d;
}

void StatCache::save() {
    std::lock_guard lock(mu_);
    if (!dirty_)
        return;
    // Keys are file names: any bytes. JSON holds only UTF-8, so they are
    // stored encoded (see encode_key).
    nlohmann::json entries = nlohmann::json::object();
    for (const auto& [k, e] : entries_)
        entries[encode_key(k)] = {e.dev, e.ino, e.size, e.mtime_ns, e.ctime_ns, e.digest};
    nlohmann::json j = {{"version", kVersion}, {"entries", std::move(entries)}};
    std::filesystem::create_directories(file_.parent_path());
    write_file_atomic(file_, j.dump());
    dirty_ = false;
}

}  // namespace kiln::solver
