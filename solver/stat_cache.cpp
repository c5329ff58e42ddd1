#include "solver/stat_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/unique_fd.h"
#include "base/utf8.h"
#include "base/xattr.h"
#include "content/atomic_file.h"

namespace kiln::solver {

namespace {

// The file's layout: {"version": 2, "entries": {encoded key: [dev, ino, size,
// mtime_ns, ctime_ns, digest]}}. Version 1 was the bare "entries" object with
// raw keys, which JSON can hold only when they are UTF-8.
// 3: digests cover xattrs (stat_cache.h); a version 2 cache is dropped.
constexpr int kVersion = 3;

long long ns(const struct timespec& t) {
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int hex_value(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

// Reads the cache file's entries without building its JSON tree, which for
// a large context would weigh several times the entries themselves. Entries
// are arrays of five integers and a digest string: in "entries" (version 2)
// or at the top (version 1). Any other shape makes the file bad.
struct CacheFileReader : nlohmann::json_sax<nlohmann::json> {
    using Entry = StatCache::Entry;
    // Entries go straight into the cache's map (no second copy of 20,000
    // entries while reading); the caller drops them unless the version is right.
    explicit CacheFileReader(std::map<std::string, Entry>& out) : entries(out) {}
    std::map<std::string, Entry>& entries;
    std::optional<long long> version;
    bool bad = false;

    int depth = 0;                                       // objects and arrays open
    bool in_entries = false;                             // inside the top-level "entries" object
    std::string last_key;                                // at depth 1 or in "entries"
    std::optional<std::pair<std::string, Entry>> entry;  // being read
    std::vector<long long> numbers;
    bool has_digest = false;

    bool number(long long v) {
        if (entry && numbers.size() < 5)
            numbers.push_back(v);
        else if (depth == 1 && last_key == "version")
            version = v;
        else
            bad = true;
        return !bad;
    }
    bool null() override { return !(bad = true); }
    bool boolean(bool) override { return !(bad = true); }
    bool number_integer(number_integer_t v) override { return number(v); }
    bool number_unsigned(number_unsigned_t v) override { return number(static_cast<long long>(v)); }
    bool number_float(number_float_t, const string_t&) override { return !(bad = true); }
    bool binary(binary_t&) override { return !(bad = true); }
    bool string(string_t& v) override {
        if (!entry || numbers.size() != 5 || has_digest ||
            !StatCache::digest_bytes(v, entry->second.digest))
            return !(bad = true);
        has_digest = true;
        return true;
    }
    bool key(string_t& k) override {
        last_key = std::move(k);
        return true;
    }
    bool start_object(std::size_t) override {
        if (depth == 1 && last_key == "entries")
            in_entries = true;
        else if (depth != 0)
            return !(bad = true);
        ++depth;
        return true;
    }
    bool end_object() override {
        --depth;
        if (depth == 1)
            in_entries = false;
        return true;
    }
    bool start_array(std::size_t) override {
        if (entry || !(depth == 1 || (depth == 2 && in_entries)))
            return !(bad = true);
        entry.emplace(last_key, Entry{});
        numbers.clear();
        has_digest = false;
        ++depth;
        return true;
    }
    bool end_array() override {
        --depth;
        if (numbers.size() != 5 || !has_digest)
            return !(bad = true);
        Entry& e = entry->second;
        e.dev = static_cast<unsigned long long>(numbers[0]);
        e.ino = static_cast<unsigned long long>(numbers[1]);
        e.size = static_cast<unsigned long long>(numbers[2]);
        e.mtime_ns = numbers[3];
        e.ctime_ns = numbers[4];
        // Version 1 kept entries at the top: a cache this build does not use.
        if (depth != 1) {
            auto key = StatCache::decode_key(entry->first);
            if (!key)
                return !(bad = true);
            entries.insert_or_assign(std::move(*key), e);
        }
        entry.reset();
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return !(bad = true);
    }
};

}  // namespace

bool StatCache::digest_bytes(std::string_view text, std::array<unsigned char, 32>& out) {
    if (text.size() != 71 || !text.starts_with("sha256:"))
        return false;
    for (std::size_t i = 0; i < 32; ++i) {
        const char hi = text[7 + 2 * i], lo = text[8 + 2 * i];
        if (!is_lower_hex(hi) || !is_lower_hex(lo))
            return false;  // as digests are written
        out[i] = static_cast<unsigned char>(hex_value(hi) * 16 + hex_value(lo));
    }
    return true;
}

content::Digest StatCache::digest_of_bytes(const std::array<unsigned char, 32>& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text = "sha256:";
    text.reserve(71);
    for (unsigned char b : bytes) {
        text += kHex[b >> 4];
        text += kHex[b & 0xf];
    }
    return content::Digest::parse(text);
}

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
    // A use (the collector removes least recently used stat caches first);
    // fails when there is none yet.
    if (::utimensat(AT_FDCWD, file_.c_str(), nullptr, 0) != 0 && errno == ENOENT)
        return;
    try {
        CacheFileReader reader(entries_);
        // Any other version (1 and 2 among them: their digests miss xattrs)
        // is a cache this build does not use: start afresh.
        if (!nlohmann::json::sax_parse(read_file(file_), &reader) || reader.bad ||
            !reader.version || *reader.version != kVersion)
            entries_.clear();
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
                return digest_of_bytes(e.digest);
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
    Xattrs xattrs =
        read_xattrs(XattrTarget::fd(fd.get()), path.string(), XattrReadErrors::skip, all_xattrs);
    if (!xattrs.empty()) {
        std::sort(xattrs.begin(), xattrs.end());
        content::Sha256 with;
        with.update(d.str() + "\n");
        for (const auto& [name, value] : xattrs) {
            with.update(std::to_string(name.size()) + ":" + name + "=");
            with.update(std::to_string(value.size()) + ":" + value + "\n");
        }
        d = with.finish();
    }
    std::lock_guard lock(mu_);
    Entry e{static_cast<unsigned long long>(st.st_dev),
            static_cast<unsigned long long>(st.st_ino),
            static_cast<unsigned long long>(st.st_size),
            ns(st.st_mtim),
            ns(st.st_ctim),
            {}};
    digest_bytes(d.str(), e.digest);
    entries_[key] = e;
    dirty_ = true;
    ++reads_;
    return d;
}

void StatCache::save() {
    std::lock_guard lock(mu_);
    if (!dirty_)
        return;
    std::filesystem::create_directories(file_.parent_path());
    AtomicFile out(file_, file_.parent_path());
    // Written in pieces as it is made: a JSON tree of a 20,000-file context
    // would weigh several times the entries themselves.
    std::string buf = "{\"entries\":{";
    bool first = true;
    for (const auto& [k, e] : entries_) {
        if (!first)
            buf += ',';
        first = false;
        // Keys are file names: any bytes. JSON holds only UTF-8, so they are
        // stored encoded (see encode_key).
        buf += nlohmann::json(encode_key(k)).dump();
        buf += ":[" + std::to_string(e.dev) + "," + std::to_string(e.ino) + "," +
               std::to_string(e.size) + "," + std::to_string(e.mtime_ns) + "," +
               std::to_string(e.ctime_ns) + ",\"" + digest_of_bytes(e.digest).str() + "\"]";
        if (buf.size() >= (1 << 16)) {
            out.write(buf);
            buf.clear();
        }
    }
    buf += "},\"version\":" + std::to_string(kVersion) + "}";
    out.write(buf);
    out.commit();
    dirty_ = false;
}

}  // namespace kiln::solver
