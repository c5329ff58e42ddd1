#include "solver/stat_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/atomic_file.h"

namespace kiln::solver {

namespace {
long long ns(const struct timespec& t) {
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
}  // namespace

StatCache::StatCache(std::filesystem::path file) : file_(std::move(file)) {
    std::error_code ec;
    if (!std::filesystem::exists(file_, ec))
        return;
    try {
        auto j = nlohmann::json::parse(read_file(file_));
        for (const auto& [k, v] : j.items()) {
            Entry e{v.at(0).get<unsigned long long>(), v.at(1).get<unsigned long long>(),
                    v.at(2).get<unsigned long long>(), v.at(3).get<long long>(),
                    v.at(4).get<long long>(),          v.at(5).get<std::string>()};
            entries_[k] = e;
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
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, e] : entries_)
        j[k] = {e.dev, e.ino, e.size, e.mtime_ns, e.ctime_ns, e.digest};
    std::filesystem::create_directories(file_.parent_path());
    write_file_atomic(file_, j.dump());
    dirty_ = false;
}

}  // namespace kiln::solver
