#include "content/temp_dir.h"

#include <stdlib.h>

#include <system_error>
#include <vector>

#include "base/error.h"
#include "content/owner.h"

namespace kiln {

TempDir::TempDir(const std::filesystem::path& parent, const std::string& prefix) {
    std::string tmpl = (parent / (content::temp_prefix(prefix) + "XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
        throw errno_error("cannot create a temporary directory in " + parent.string());
    }
    path_ = buf.data();
}

TempDir::~TempDir() {
    if (path_.empty())
        return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace kiln
