#include "gc/inventory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <optional>

#include "base/unique_fd.h"
#include "content/atomic_file.h"
#include "content/oci.h"

#include <nlohmann/json.hpp>

namespace kiln::gc {

namespace fs = std::filesystem;
using content::Digest;
using nlohmann::json;

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::record:
            return "cache record";
        case Kind::snapshot:
            return "snapshot";
        case Kind::stat_cache:
            return "stat cache";
        case Kind::cache_mount:
            return "cache mount";
        case Kind::git_checkout:
            return "git checkout";
        case Kind::quarantined:
            return "corrupt blob";
    }
    return "?";
}

namespace {

std::int64_t nanos(const struct timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

std::int64_t share_of(const struct stat& st) {
    const std::int64_t bytes = static_cast<std::int64_t>(st.st_blocks) * 512;
    return S_ISDIR(st.st_mode) || st.st_nlink <= 1 ? bytes
                                                   : bytes / static_cast<std::int64_t>(st.st_nlink);
}

// (name, stat) of each entry of `dir`, none followed.
std::vector<std::pair<std::string, struct stat>> entries(const fs::path& dir) {
    std::vector<std::pair<std::string, struct stat>> out;
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
        return out;
    DIR* d = ::fdopendir(fd.get());
    if (!d)
        return out;
    fd.release();
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..")
            continue;
        struct stat st;
        if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
            out.emplace_back(std::move(n), st);
    }
    ::closedir(d);
    return out;
}

std::int64_t walk(int dir_fd, dev_t dev) {
    std::int64_t total = 0;
    DIR* d = ::fdopendir(dir_fd);
    if (!d) {
        ::close(dir_fd);
        return 0;
    }
    while (dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
            continue;
        struct stat st;
        if (::fstatat(::dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        total += share_of(st);
        if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
            int sub = ::openat(::dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                total += walk(sub, dev);
        }
    }
    ::closedir(d);
    return total;
}

std::optional<json> read_json(const fs::path& p) {
    try {
        return json::parse(kiln::read_file(p));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<Digest> digest_in(const json& j, const char* key) {
    try {
        if (j.is_object() && j.contains(key) && j[key].is_string())
            return Digest::parse(j[key].get<std::string>());
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

// Marks what a named manifest, index or config refers to; diffIDs' chain IDs
// go into `chains`.
void mark(const fs::path& root, const Digest& d, Inventory& inv, std::set<std::string>& chains,
          int depth) {
    if (!inv.image_blobs.insert(d).second || depth > 8)
        return;
    auto it = inv.blobs.find(d);
    if (it == inv.blobs.end() || it->second.bytes > (16 << 20))
        return;  // not here (a lazily known layer) or too big to be a document
    auto j = read_json(root / "blobs" / "sha256" / std::string(d.hex()));
    if (!j || !j->is_object())
        return;  // a layer
    if (j->contains("manifests") && (*j)["manifests"].is_array())
        for (const auto& m : (*j)["manifests"])
            if (auto md = digest_in(m, "digest"))
                mark(root, *md, inv, chains, depth + 1);
    if (j->contains("config") && (*j)["config"].is_object())
        if (auto cd = digest_in((*j)["config"], "digest"))
            mark(root, *cd, inv, chains, depth + 1);
    if (j->contains("layers") && (*j)["layers"].is_array())
        for (const auto& l : (*j)["layers"])
            if (auto ld = digest_in(l, "digest"))
                inv.image_blobs.insert(*ld);
    if (j->contains("rootfs") && (*j)["rootfs"].is_object() &&
        (*j)["rootfs"].contains("diff_ids") && (*j)["rootfs"]["diff_ids"].is_array()) {
        std::string chain;
        for (const auto& id : (*j)["rootfs"]["diff_ids"]) {
            try {
                Digest diff = Digest::parse(id.get<std::string>());
                inv.image_blobs.insert(diff);
                chain = content::chain_id(chain, diff);
                chains.insert(chain);
            } catch (const std::exception&) {
                break;
            }
        }
    }
}

void read_images(const fs::path& root, Inventory& inv, std::set<std::string>& chains) {
    auto index = read_json(root / "index.json");
    if (!index || !index->contains("manifests") || !(*index)["manifests"].is_array())
        return;
    for (const auto& m : (*index)["manifests"]) {
        auto d = digest_in(m, "digest");
        if (!d)
            continue;
        // Every entry is a root, named or not (another tool may have written one).
        std::string name = d->str();
        if (m.contains("annotations") && m["annotations"].is_object() &&
            m["annotations"].contains(content::kRefNameAnnotation) &&
            m["annotations"][content::kRefNameAnnotation].is_string())
            name = m["annotations"][content::kRefNameAnnotation].get<std::string>();
        inv.images.emplace(name, *d);
        mark(root, *d, inv, chains, 0);
    }
}

void read_blobs(const fs::path& root, Inventory& inv) {
    for (const auto& [name, st] : entries(root / "blobs" / "sha256")) {
        if (!S_ISREG(st.st_mode))
            continue;
        try {
            inv.blobs[Digest::parse("sha256:" + name)] = {share_of(st), nanos(st.st_mtim)};
        } catch (const std::exception&) {
            inv.other_bytes += share_of(st);  // a stray file; the recovery pass's business
        }
    }
}

void read_twins_and_sources(const fs::path& root, Inventory& inv) {
    const fs::path compressed = root / "cache" / "compressed";
    for (const auto& [variant, vst] : entries(compressed)) {
        if (!S_ISDIR(vst.st_mode))
            continue;
        for (const auto& [name, st] : entries(compressed / variant)) {
            inv.other_bytes += share_of(st);
            auto j = read_json(compressed / variant / name);
            auto blob = j ? digest_in(*j, "digest") : std::nullopt;
            try {
                if (blob)
                    inv.twins[Digest::parse("sha256:" + name)].push_back(
                        {compressed / variant / name, *blob});
            } catch (const std::exception&) {
            }
        }
    }
    for (const auto& [name, st] : entries(root / "cache" / "sources")) {
        inv.other_bytes += share_of(st);
        try {
            inv.sources[Digest::parse("sha256:" + name)] = root / "cache" / "sources" / name;
        } catch (const std::exception&) {
        }
    }
}

void read_records(const fs::path& root, Inventory& inv) {
    const fs::path dir = root / "cache" / "steps";
    for (const auto& [name, st] : entries(dir)) {
        if (!S_ISREG(st.st_mode) || name.starts_with("."))
            continue;
        Unit u{Kind::record, dir / name, share_of(st), nanos(st.st_mtim), {}, "", "", "", false};
        if (auto j = read_json(u.path)) {
            if (j->contains("layer"))
                if (auto d = digest_in((*j)["layer"], "digest"))
                    u.refs.push_back(*d);
            if (j->contains("summary") && (*j)["summary"].is_object())
                u.description = (*j)["summary"].value("instruction", "");
        }
        inv.units.push_back(std::move(u));
    }
}

void read_snapshots(const fs::path& root, Inventory& inv, const std::set<std::string>& chains,
                    Sizing sizing) {
    const fs::path sizes_file = root / "cache" / "gc" / "sizes.json";
    json sizes = read_json(sizes_file).value_or(json::object());
    if (!sizes.is_object())
        sizes = json::object();
    json seen = json::object();
    for (const auto& [kind, kst] : entries(root / "snapshots")) {
        if (!S_ISDIR(kst.st_mode))
            continue;
        for (const auto& [name, st] : entries(root / "snapshots" / kind)) {
            const fs::path dir = root / "snapshots" / kind / name;
            if (!S_ISDIR(st.st_mode))
                continue;
            if (name == "tmp") {
                inv.tmp_bytes += disk_bytes(dir) - share_of(st);
                inv.other_bytes += share_of(st);
                continue;
            }
            if (name == "locks") {
                inv.other_bytes += disk_bytes(dir);
                continue;
            }
            auto meta = read_json(dir / "meta.json");
            if (!meta || !meta->contains("key") || !(*meta)["key"].is_string())
                continue;  // not a snapshot (yet)
            Unit u{Kind::snapshot, dir, 0, nanos(st.st_mtim), {}, "", kind, "", false};
            u.snapshot_key = (*meta)["key"].get<std::string>();
            u.description = meta->value("source", "");
            u.of_image = chains.count(u.snapshot_key) > 0;
            const std::string id = kind + "/" + name;
            std::optional<std::int64_t> layer_bytes;
            try {
                if (auto b = inv.blobs.find(Digest::parse(u.description)); b != inv.blobs.end())
                    layer_bytes = b->second.bytes;
            } catch (const std::exception&) {
            }
            if (sizes.contains(id) && sizes[id].is_number_integer()) {
                u.bytes = sizes[id].get<std::int64_t>();
                seen[id] = u.bytes;
            } else if (sizing == Sizing::bound && layer_bytes) {
                u.bytes = 4 * *layer_bytes + 65536;
            } else {
                u.bytes = disk_bytes(dir);
                seen[id] = u.bytes;
            }
            inv.units.push_back(std::move(u));
        }
    }
    if (seen != sizes) {
        try {
            std::error_code ec;
            fs::create_directories(sizes_file.parent_path(), ec);
            kiln::write_file_atomic(sizes_file, seen.dump());
        } catch (const std::exception&) {
            // only a cache: the next inventory walks again
        }
    }
}

void read_plain(const fs::path& dir, Kind kind, Inventory& inv) {
    for (const auto& [name, st] : entries(dir)) {
        const fs::path p = dir / name;
        const bool dirs = kind == Kind::cache_mount || kind == Kind::git_checkout;
        const bool unit = dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
        if (!unit || name.starts_with(".")) {
            inv.other_bytes += S_ISDIR(st.st_mode) ? disk_bytes(p) : share_of(st);
            continue;
        }
        Unit u{kind,
               p,
               S_ISDIR(st.st_mode) ? disk_bytes(p) : share_of(st),
               nanos(st.st_mtim),
               {},
               "",
               "",
               "",
               false};
        if (kind == Kind::cache_mount)
            u.description = name.substr(0, 12);
        inv.units.push_back(std::move(u));
    }
}

std::int64_t disk_bytes_of_dir_only(const fs::path& dir) {
    struct stat st;
    return ::lstat(dir.c_str(), &st) == 0 ? share_of(st) : 0;
}

}  // namespace

std::int64_t disk_bytes(const fs::path& dir) {
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return share_of(st);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? share_of(st) : share_of(st) + walk(fd, st.st_dev);
}

Inventory take_inventory(const fs::path& root, Sizing sizing) {
    Inventory inv;
    read_blobs(root, inv);
    std::set<std::string> chains;
    read_images(root, inv, chains);
    read_twins_and_sources(root, inv);
    read_records(root, inv);
    read_snapshots(root, inv, chains, sizing);
    read_plain(root / "cache" / "stat", Kind::stat_cache, inv);
    read_plain(root / "cache" / "mounts", Kind::cache_mount, inv);
    read_plain(root / "cache" / "git", Kind::git_checkout, inv);
    // What is in tmp/ (the directory itself is the store's, not a leftover).
    inv.other_bytes += disk_bytes_of_dir_only(root / "tmp");
    for (const auto& [name, st] : entries(root / "tmp")) {
        const fs::path p = root / "tmp" / name;
        if (name.starts_with("corrupt-") && S_ISREG(st.st_mode))
            inv.units.push_back({Kind::quarantined,
                                 p,
                                 share_of(st),
                                 nanos(st.st_mtim),
                                 {},
                                 name.substr(8, 12),
                                 "",
                                 "",
                                 false});
        else
            inv.tmp_bytes += S_ISDIR(st.st_mode) ? disk_bytes(p) : share_of(st);
    }
    for (const char* f : {"index.json", "oci-layout", "locks"})
        inv.other_bytes += disk_bytes(root / f);
    return inv;
}

}  // namespace kiln::gc
