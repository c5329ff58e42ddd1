// overlayfs mounts owned by an object (internal to snapshotter/).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace kiln::snapshotter {

// The kernel takes mount options in one page.
constexpr std::size_t kMountOptionsMax = 4095;

// A mount point that is unmounted when the object dies (lazily if busy).
class Mount {
  public:
    Mount() = default;
    explicit Mount(std::filesystem::path target) : target_(std::move(target)) {}
    ~Mount();
    Mount(Mount&& o) noexcept : target_(std::move(o.target_)) { o.target_.clear(); }
    Mount& operator=(Mount&& o) noexcept;
    Mount(const Mount&) = delete;
    Mount& operator=(const Mount&) = delete;

    bool mounted() const { return !target_.empty(); }
    // Unmounts now, waiting up to kBusyWait while the mount is busy; throws
    // kiln::Error naming the mount point when it cannot.
    void unmount();
    static constexpr std::chrono::milliseconds kBusyWait{3000};

  private:
    std::filesystem::path target_;
};

struct OverlaySpec {
    std::filesystem::path dir;                  // holds l/, and upper/ work/ when writable
    std::vector<std::filesystem::path> lowers;  // top → bottom, absolute
    bool writable = true;                       // upperdir=upper,workdir=work
    std::filesystem::path target;               // the mount point
};

// The options string that mount_overlay passes, relative to spec.dir.
std::string overlay_options(const OverlaySpec& spec);

// Creates dir/l/<i> → lowers[i] and mounts the overlay from a thread whose
// working directory is spec.dir. Throws kiln::Error naming spec.target.
Mount mount_overlay(const OverlaySpec& spec);

// Every mount point in /proc/self/mountinfo, its octal escapes (space, tab,
// newline, backslash) undone.
std::vector<std::string> mount_points();

// Whether `path` is a mount point in /proc/self/mountinfo.
bool is_mounted(const std::filesystem::path& path);

}  // namespace kiln::snapshotter
