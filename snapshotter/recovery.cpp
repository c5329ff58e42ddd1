#include "snapshotter/recovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "base/error.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "content/owner.h"
#include "snapshotter/mount.h"
#include "snapshotter/tree.h"

namespace kiln::snapshotter {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return out;
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..")
            out.push_back(std::move(n));
    }
    ::closedir(d);
    return out;
}

// Where temporaries are made (content/owner.h lists the makers).
std::vector<fs::path> temp_dirs(const fs::path& root) {
    std::vector<fs::path> dirs = {root,
                                  root / "tmp",
                                  root / "cache" / "steps",
                                  root / "cache" / "stat",
                                  root / "cache" / "sources",
                                  root / "cache" / "gc"};
    for (const std::string& kind : names_in(root / "snapshots"))
        dirs.push_back(root / "snapshots" / kind / "tmp");
    for (const std::string& variant : names_in(root / "cache" / "compressed"))
        dirs.push_back(root / "cache" / "compressed" / variant);
    return dirs;
}

void delete_container(const fs::path& state_root, const std::string& id, Recovered& done) {
    struct stat st;
    const fs::path state = state_root / id;
    std::string runtime = ::lstat((state / "state.json").c_str(), &st) == 0 ? "runc"
                          : ::lstat((state / "status").c_str(), &st) == 0   ? "crun"
                                                                            : "";
    if (runtime.empty())
        return;
    ProcessOptions p;
    p.argv = {runtime, "--root", state_root.string(), "delete", "-f", id};
    p.out = Stdio::dev_null();
    p.err = Stdio::dev_null();
    RunOptions r;
    r.timeout = std::chrono::seconds(30);
    try {
        if (run_process(p, r).exit_code == 0)
            ++done.containers;
    } catch (const Error&) {
        // No such runtime here: nothing it made can run either.
    }
}

// Containers whose state a dead build left: <dir>/.../runtime-state/<id>.
// The walk stays on dir's file system (never into a mounted image root) and
// follows no symlink.
void delete_containers(const fs::path& dir, Recovered& done) {
    struct stat top;
    if (::lstat(dir.c_str(), &top) != 0)
        return;
    std::vector<std::pair<fs::path, int>> todo = {{dir, 0}};
    while (!todo.empty()) {
        auto [path, depth] = todo.back();
        todo.pop_back();
        for (const std::string& name : names_in(path)) {
            fs::path p = path / name;
            struct stat st;
            if (::lstat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != top.st_dev)
                continue;
            if (name == "runtime-state") {
                for (const std::string& id : names_in(p))
                    delete_container(p, id, done);
            } else if (depth < 8) {
                todo.push_back({p, depth + 1});
            }
        }
    }
}

// Detaches every mount at or below `path`, deepest first.
void detach_mounts(const fs::path& path, Recovered& done) {
    std::error_code ec;
    fs::path real = fs::weakly_canonical(path, ec);
    if (ec)
        return;
    const std::string at = real.string(), below = at + "/";
    std::vector<std::string> points;
    for (std::string& p : mount_points())
        if (p == at || p.starts_with(below))
            points.push_back(std::move(p));
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const std::string& p : points)
        if (::umount2(p.c_str(), MNT_DETACH) == 0)
            ++done.mounts;
}

bool remove_entry(const fs::path& path, Recovered& done) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0)
        return errno == ENOENT;
    if (S_ISDIR(st.st_mode)) {
        delete_containers(path, done);
        detach_mounts(path, done);
        try {
            tree::remove_tree(path);
        } catch (const Error&) {
            return false;
        }
    } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return false;
    }
    ++done.entries;
    return true;
}

}  // namespace

Recovered recover_state_root(const fs::path& root) {
    Recovered done;
    try {
        const fs::path owners = root / "locks" / "owners";
        std::map<std::string, content::DeadOwner> dead;
        for (const std::string& name : names_in(owners)) {
            if (name.starts_with(".new-")) {
                // A registration killed before its rename: an empty file,
                // locked while its maker lives.
                UniqueFd fd(::open((owners / name).c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
                if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
                    ::unlink((owners / name).c_str());
                continue;
            }
            content::DeadOwner d;
            if (content::owner_is_dead(root, name, d) && d.lock)
                dead.emplace(name, std::move(d));
        }
        if (dead.empty())
            return done;
        std::map<std::string, bool> all_gone;
        for (const auto& [token, d] : dead)
            all_gone[token] = true;
        for (const fs::path& dir : temp_dirs(root)) {
            for (const std::string& name : names_in(dir)) {
                std::string token = content::token_of(name);
                auto it = all_gone.find(token);
                if (it == all_gone.end())
                    continue;
                if (!remove_entry(dir / name, done))
                    it->second = false;
            }
        }
        for (const auto& [token, d] : dead) {
            if (all_gone[token]) {
                content::forget_owner(root, d);
                ++done.owners;
            }
        }
    } catch (const std::exception&) {
        // Best effort: see the header.
    }
    return done;
}

}  // namespace kiln::snapshotter
