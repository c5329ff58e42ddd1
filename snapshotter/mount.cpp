#include "snapshotter/mount.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/unique_fd.h"

namespace kiln::snapshotter {

namespace fs = std::filesystem;

namespace {
// Linux < 5.10 refuses "volatile" (EINVAL); learnt once per process.
std::atomic<bool> volatile_supported{true};
}  // namespace

Mount::~Mount() {
    if (target_.empty())
        return;
    if (::umount2(target_.c_str(), 0) != 0 && errno != EINVAL && errno != ENOENT) {
        // Busy (a process still inside): detach it so nothing of ours stays
        // visible; the kernel frees it when the last user goes.
        ::umount2(target_.c_str(), MNT_DETACH);
    }
}

Mount& Mount::operator=(Mount&& o) noexcept {
    if (this != &o) {
        Mount old(std::move(*this));
        target_ = std::move(o.target_);
        o.target_.clear();
    }
    return *this;
}

void Mount::unmount() {
    if (target_.empty())
        return;
    // EBUSY can be brief: a process spawned by another thread holds a copy of
    // every fd open at that moment until its exec closes them, so a step's
    // mount is busy for that while. Wait it out; a real user (a process still
    // inside) outlasts the wait and is an error.
    auto pause = std::chrono::milliseconds(1);
    auto waited = std::chrono::milliseconds(0);
    while (::umount2(target_.c_str(), 0) != 0) {
        if (errno == EINVAL || errno == ENOENT)
            break;
        if (errno != EBUSY || waited >= kBusyWait)
            throw errno_error("cannot unmount " + target_.string());
        std::this_thread::sleep_for(pause);
        waited += pause;
        pause = std::min(pause * 2, std::chrono::milliseconds(100));
    }
    target_.clear();
}

std::string overlay_options(const OverlaySpec& spec) {
    std::string opts = "lowerdir=";
    for (std::size_t i = 0; i < spec.lowers.size(); ++i) {
        if (i)
            opts += ':';
        opts += "l/" + std::to_string(i);
    }
    if (spec.writable)
        opts += ",upperdir=upper,workdir=work";
    // The upper directory must be a complete diff: no redirects, no metacopy, no index.
    opts += ",index=off,redirect_dir=off,metacopy=off";
    // Last, so that mount_overlay can drop it. Unmounting then does not
    // syncfs the whole file system on the step's path; the Flusher syncs
    // published snapshots instead (flusher.h).
    if (spec.writable && volatile_supported.load())
        opts += ",volatile";
    return opts;
}

Mount mount_overlay(const OverlaySpec& spec) {
    if (spec.lowers.empty())
        throw Error("cannot mount an overlay at " + spec.target.string() + " without a lower");
    // overlay treats ':' and ',' in lower paths as separators; our paths never hold them,
    // but a root chosen by the user might.
    for (const fs::path& l : spec.lowers) {
        std::string s = l.string();
        if (s.find_first_of(":,") != std::string::npos) {
            throw Error("cannot use " + s +
                        " as an overlay lower directory: its path holds ':' or ','; choose a "
                        "state root without them");
        }
    }
    std::string opts = overlay_options(spec);
    if (opts.size() > kMountOptionsMax) {
        throw Error("cannot mount " + std::to_string(spec.lowers.size()) +
                    " layers as one overlay at " + spec.target.string() + ": the mount options (" +
                    std::to_string(opts.size()) + " bytes) exceed the kernel's limit of " +
                    std::to_string(kMountOptionsMax) + " bytes");
    }
    fs::path links = spec.dir / "l";
    std::error_code ec;
    fs::create_directories(links, ec);
    if (ec)
        throw Error("cannot create " + links.string() + ": " + ec.message());
    for (std::size_t i = 0; i < spec.lowers.size(); ++i) {
        fs::path link = links / std::to_string(i);
        if (::symlink(spec.lowers[i].c_str(), link.c_str()) != 0)
            throw errno_error("cannot create " + link.string());
    }
    UniqueFd dir(::open(spec.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir)
        throw errno_error("cannot open " + spec.dir.string());
    std::string target = fs::relative(spec.target, spec.dir).string();
    unsigned long flags = spec.writable ? 0UL : static_cast<unsigned long>(MS_RDONLY);

    // A thread with its own cwd: the process's working directory is never changed.
    int err = 0;
    std::string step;
    std::thread t([&] {
        if (::unshare(CLONE_FS) != 0) {
            err = errno;
            step = "unshare(CLONE_FS)";
            return;
        }
        if (::fchdir(dir.get()) != 0) {
            err = errno;
            step = "chdir";
            return;
        }
        if (::mount("overlay", target.c_str(), "overlay", flags, opts.c_str()) == 0)
            return;
        err = errno;
        step = "mount";
        if (err == EINVAL && opts.ends_with(",volatile")) {
            opts.resize(opts.size() - std::string_view(",volatile").size());
            if (::mount("overlay", target.c_str(), "overlay", flags, opts.c_str()) == 0) {
                volatile_supported = false;
                err = 0;
                return;
            }
            err = errno;
        }
    });
    t.join();
    if (err != 0) {
        throw Error("cannot mount the overlay at " + spec.target.string() + " (" + step +
                    ", options " + opts + " in " + spec.dir.string() + "): " + std::strerror(err));
    }
    return Mount(spec.target);
}

namespace {
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto octal = [&](std::size_t k) { return s[k] >= '0' && s[k] <= '7'; };
        if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}
}  // namespace

std::vector<std::string> mount_points() {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, devno, root, point;
        ls >> id >> parent >> devno >> root >> point;
        out.push_back(unescape(point));
    }
    return out;
}

bool is_mounted(const fs::path& path) {
    const std::string want = fs::absolute(path).lexically_normal().string();
    for (const std::string& point : mount_points())
        if (point == want)
            return true;
    return false;
}

}  // namespace kiln::snapshotter
