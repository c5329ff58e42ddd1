#include "gc/sweep.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "base/error.h"
#include "content/owner.h"
#include "snapshotter/snapshotter.h"
#include "snapshotter/tree.h"

namespace kiln::gc {

namespace fs = std::filesystem;

namespace {

void unlink_file(const fs::path& p) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
        throw errno_error("cannot remove " + p.string());
}

void remove_mount_dir(const fs::path& root, const fs::path& dir) {
    std::string temp = (root / "tmp" / (content::temp_prefix(".gc-") + "XXXXXX")).string();
    if (!::mkdtemp(temp.data()))
        throw errno_error("cannot make a directory in " + (root / "tmp").string());
    const fs::path gone = fs::path(temp) / "mount";
    if (::rename(dir.c_str(), gone.c_str()) != 0 && errno != ENOENT)
        throw errno_error("cannot move " + dir.string() + " away");
    snapshotter::tree::remove_tree(temp);
    unlink_file(dir.string() + ".lock");
}

}  // namespace

void sweep(const fs::path& root, const Plan& plan) {
    std::map<std::string, std::unique_ptr<snapshotter::Snapshotter>> snapshotters;
    std::size_t failed = 0;
    std::string first;
    auto attempt = [&](const std::function<void()>& f) {
        try {
            f();
        } catch (const std::exception& e) {
            if (failed++ == 0)
                first = e.what();
        }
    };
    for (const Removal& r : plan.units)
        attempt([&] {
            switch (r.kind) {
                case Kind::record:
                case Kind::stat_cache:
                case Kind::quarantined:
                    unlink_file(r.path);
                    break;
                case Kind::cache_mount:
                case Kind::git_checkout:
                    remove_mount_dir(root, r.path);
                    break;
                case Kind::snapshot: {
                    auto& s = snapshotters[r.snapshot_kind];
                    if (!s)
                        s = snapshotter::open_snapshotter(root / "snapshots", r.snapshot_kind,
                                                          root / "tmp");
                    s->remove(r.snapshot_key);
                    break;
                }
            }
        });
    for (const fs::path& p : plan.records)
        attempt([&] { unlink_file(p); });
    for (const content::Digest& d : plan.blobs)
        attempt([&] { unlink_file(root / "blobs" / "sha256" / std::string(d.hex())); });
    if (failed)
        throw Error(std::to_string(failed) +
                    " item(s) of the store could not be removed: " + first);
}

}  // namespace kiln::gc
