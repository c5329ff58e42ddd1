// A fuzz target's scratch directory under /tmp: made on first use, removed when
// the fuzzer exits normally (left in place after a finding, for a look).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace kiln::fuzz {

inline const std::filesystem::path& scratch_dir(const std::string& name) {
    struct Dir {
        std::filesystem::path path;
        explicit Dir(const std::string& n) {
            std::string tmpl = "/tmp/kiln-" + n + "-XXXXXX";
            const char* made = ::mkdtemp(tmpl.data());
            if (made == nullptr)
                ::abort();
            path = made;
        }
        ~Dir() {
            std::error_code ec;
            std::filesystem::remove_all(path, ec);
        }
    };
    static const Dir dir(name);
    return dir.path;
}

}  // namespace kiln::fuzz
