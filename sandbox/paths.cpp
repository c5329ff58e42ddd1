// Paths inside the rootfs a RUN step runs in, through the one in-root resolver
// (base/root_dir.h), with its errors turned into SandboxError (see detail.h).
#include <sys/stat.h>

#include "base/error.h"
#include "base/root_dir.h"
#include "sandbox/detail.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox::detail {

std::filesystem::path resolve_in_root(const std::filesystem::path& root, const std::string& path) {
    try {
        InRoot r = RootDir(root).resolve(path);
        return root / r.path.substr(1);
    } catch (const kiln::Error& e) {
        throw SandboxError("cannot resolve " + path + " in the rootfs: " + e.what());
    }
}

std::filesystem::path mkdir_in_root(const std::filesystem::path& root, const std::string& path) {
    try {
        RootDir r(root);
        r.mkdir_all(path, 0755);
        return root / r.resolve(path).path.substr(1);
    } catch (const kiln::Error& e) {
        throw SandboxError("cannot create directory " + path + " in the rootfs: " + e.what());
    }
}

std::optional<std::string> read_in_root(const std::filesystem::path& root,
                                        const std::string& path) {
    try {
        RootDir r(root);
        InRoot at = r.resolve(path);
        if (!at.exists || !S_ISREG(at.st.st_mode)) {
            return std::nullopt;
        }
        return r.read_file(path);
    } catch (const kiln::Error& e) {
        throw SandboxError("cannot read " + path + " in the rootfs: " + e.what());
    }
}

}  // namespace kiln::sandbox::detail
