#include "registry/blob_sources.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "content/unique_fd.h"

namespace kiln::registry {

namespace fs = std::filesystem;

namespace {

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
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd)
        return;  // only a hint
    const std::string out = line + "\n";
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
        if (line.rfind(prefix, 0) == 0) {
            std::string repo = line.substr(prefix.size());
            if (!repo.empty() && std::find(out.begin(), out.end(), repo) == out.end())
                out.push_back(repo);
        }
    }
    return out;
}

}  // namespace kiln::registry
