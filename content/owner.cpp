#include "content/owner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <system_error>
#include <vector>

#include "base/error.h"

namespace kiln::content {

namespace fs = std::filesystem;

namespace {

fs::path owners_dir(const fs::path& root) {
    return root / "locks" / "owners";
}

bool well_formed(std::string_view token) {
    // <pid>.<8 hex>
    std::size_t dot = token.find('.');
    if (dot == std::string_view::npos || dot == 0 || token.size() - dot - 1 != 8)
        return false;
    for (std::size_t i = 0; i < token.size(); ++i) {
        char c = token[i];
        bool ok = i < dot ? (c >= '0' && c <= '9')
                          : i == dot || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (!ok)
            return false;
    }
    return true;
}

// One root's owner file, locked while any StateRoot of this process uses the
// root; removed (while still locked) when the last one goes.
struct Registry {
    std::mutex mu;
    std::map<fs::path, std::weak_ptr<struct Registration>> roots;
    std::atomic<bool> any{false};
};

Registry& registry() {
    static Registry r;
    return r;
}

// One root's owner file, locked while any StateRoot of this process uses the
// root; removed (while still locked) when the last one goes.
struct Registration {
    Registration(fs::path f, UniqueFd l) : file(std::move(f)), lock(std::move(l)) {}
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() {
        // Under the registry's lock, so a new registration of the same root
        // (same name) is not made between this check and the unlink.
        std::lock_guard guard(registry().mu);
        struct stat mine, named;
        if (::fstat(lock.get(), &mine) == 0 && ::stat(file.c_str(), &named) == 0 &&
            mine.st_ino == named.st_ino && mine.st_dev == named.st_dev)
            ::unlink(file.c_str());
    }
    fs::path file;
    UniqueFd lock;
};

}  // namespace

const std::string& process_token() {
    static const std::string token = [] {
        std::random_device rd;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d.%08x", static_cast<int>(::getpid()),
                      static_cast<unsigned>(rd()));
        return std::string(buf);
    }();
    return token;
}

std::shared_ptr<const void> register_owner(const fs::path& root) {
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    fs::path key = fs::absolute(root).lexically_normal();
    if (auto held = r.roots[key].lock())
        return held;
    fs::path dir = owners_dir(key);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error("cannot create " + dir.string() + ": " + ec.message());
    const std::string& token = process_token();
    fs::path fresh = dir / (".new-" + token), final = dir / token;
    // Between the open and the lock, another command's recovery may take the
    // empty, unlocked file for one a killed registration left, lock it and
    // unlink it (snapshotter/recovery.cpp): the lock is then refused, or the
    // rename finds no file. Either way the file is made again.
    for (int attempt = 1;; ++attempt) {
        UniqueFd fd(::open(fresh.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        if (!fd)
            throw errno_error("cannot create " + fresh.string());
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK && attempt < 20) {
                ::usleep(1000);
                continue;
            }
            throw errno_error("cannot lock " + fresh.string());
        }
        if (::rename(fresh.c_str(), final.c_str()) != 0) {
            if (errno == ENOENT && attempt < 20)
                continue;
            throw errno_error("cannot create " + final.string());
        }
        auto reg = std::make_shared<Registration>(final, std::move(fd));
        r.roots[key] = reg;
        r.any = true;
        return reg;
    }
}

std::string temp_prefix(std::string_view prefix) {
    if (!registry().any)
        return std::string(prefix);
    return std::string(prefix) + process_token() + "-";
}

std::string token_of(std::string_view name) {
    // <prefix><token>-XXXXXX: the token is the part between the last two '-'.
    std::size_t last = name.rfind('-');
    if (last == std::string_view::npos || last == 0)
        return "";
    std::size_t before = name.rfind('-', last - 1);
    if (before == std::string_view::npos)
        return "";  // <prefix>XXXXXX: made before any registration
    std::string_view token = name.substr(before + 1, last - before - 1);
    return well_formed(token) ? std::string(token) : "";
}

bool owner_is_dead(const fs::path& root, const std::string& token, DeadOwner& out) {
    if (!well_formed(token) || token == process_token())
        return false;
    fs::path file = owners_dir(root) / token;
    UniqueFd fd(::open(file.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno != ENOENT)
            return false;  // cannot tell: leave it
        out = DeadOwner{token, UniqueFd()};
        return true;
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
        return false;  // alive (or another process is reclaiming it right now)
    out = DeadOwner{token, std::move(fd)};
    return true;
}

void forget_owner(const fs::path& root, const DeadOwner& dead) {
    if (dead.lock)
        ::unlink((owners_dir(root) / dead.token).c_str());
}

}  // namespace kiln::content
