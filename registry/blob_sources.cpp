#include "registry/blob_sources.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/unique_fd.h"

namespace kiln::registry {

namespace fs = std::filesystem;

namespace {

// Ends a torn line found when appending; no repository name contains it.
constexpr char kTornMark = '!';

fs::path record_path(const content::StateRoot& root, const content::Digest& blob) {
    return root.cache() / "sources" / std::string(blob.hex());
}

}  // namespace

void record_blob_source(const content::StateRoot& root, const content::Digest& blob,
                        const std::string& domain, const std::string& repository) {
    const std::string line = domain + "/" + repository;
    for (const auto& known : blob_sources(root, blob, domain))
        if (domain + "/" + known == line)
            return;
    const fs::path p = record_path(root, blob);
    fs::create_directories(p.parent_path());
    // One short O_APPEND write per line: concurrent writers never interleave
    // inside a line, and a torn last line is skipped when read.
    UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd)
        return;  // only a hint
    std::string out = line + "\n";
    // After a torn write the file does not end in a newline: end that line
    // with kTornMark (so it is still skipped) rather than run this one into it.
    struct stat st {};
    char last = '\n';
    if (::fstat(fd.get(), &st) == 0 && st.st_size > 0 &&
        ::pread(fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n')
        out = std::string(1, kTornMark) + "\n" + out;
    [[maybe_unused]] auto n = ::write(fd.get(), out.data(), out.size());
}

std::vector<std::string> blob_sources(const content::StateRoot& root, const content::Digest& blob,
                                      const std::string& domain) {
    std::vector<std::string> out;
    std::ifstream in(record_path(root, blob));
    std::string line;
    const std::string prefix = domain + "/";
    while (std::getline(in, line)) {
        if (in.eof())
            break;  // no newline: a torn write
        if (!line.empty() && line.back() == kTornMark)
            continue;  // a torn write that a later record ended
        if (line.rfind(prefix, 0) == 0) {
            std::string repo = line.substr(prefix.size());
            if (!repo.empty() && std::find(out.begin(), out.end(), repo) == out.end())
                out.push_back(repo);
        }
    }
    return out;
}

}  // namespace kiln::registry
