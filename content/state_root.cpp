#include "content/state_root.h"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "base/error.h"
#include "content/atomic_file.h"
#include "content/file_lock.h"
#include "content/owner.h"

namespace kiln::content {

namespace fs = std::filesystem;

fs::path resolve_state_root(const std::optional<std::string>& flag) {
    if (flag && !flag->empty())
        return fs::absolute(*flag);
    if (const char* env = std::getenv("KILN_ROOT"); env && *env)
        return fs::absolute(env);
    if (::geteuid() == 0)
        return "/var/lib/kiln";
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        return fs::path(xdg) / "kiln";
    if (const char* home = std::getenv("HOME"); home && *home)
        return fs::path(home) / ".local" / "share" / "kiln";
    throw Error("cannot choose a state root: set --root or KILN_ROOT");
}

namespace {
fs::path make_dirs(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec)
        throw Error("cannot create state root " + p.string() + ": " + ec.message());
    return p;
}
}  // namespace

StateRoot::StateRoot(fs::path path)
    : path_(make_dirs(path)), blobs_((make_dirs(path_ / "tmp"), path_), path_ / "tmp") {
    for (const char* d : {"locks", "snapshots", "cache"})
        make_dirs(path_ / d);
    // Before anything below makes a temporary: see owner.h.
    owner_ = register_owner(path_);
    // Two processes may initialise a fresh root together: the lock keeps one
    // from replacing an index.json the other has already filled.
    FileLock lock(locks() / "index.lock");
    if (!fs::exists(path_ / "oci-layout"))
        write_file_atomic(path_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    if (!fs::exists(path_ / "index.json"))
        write_file_atomic(path_ / "index.json", R"({"manifests":[],"schemaVersion":2})");
}

}  // namespace kiln::content
