// Path resolution inside a rootfs that may hold hostile symlinks (see detail.h).
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <vector>

#include "sandbox/detail.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox::detail {

namespace {

constexpr int kMaxLinks = 255;  // as securejoin

std::deque<std::string> split_components(const std::string& path) {
    std::deque<std::string> out;
    std::string cur;
    for (char c : path) {
        if (c == '/') {
            if (!cur.empty()) {
                out.push_back(std::move(cur));
            }
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) {
        out.push_back(std::move(cur));
    }
    return out;
}

std::filesystem::path join(const std::filesystem::path& root, const std::vector<std::string>& c) {
    std::filesystem::path p = root;
    for (const auto& s : c) {
        p /= s;
    }
    return p;
}

std::filesystem::path resolve(const std::filesystem::path& root, const std::string& path,
                              bool create) {
    std::deque<std::string> todo = split_components(path);
    std::vector<std::string> done;
    bool missing = false;  // once a component is missing, the rest is lexical
    int links = 0;
    while (!todo.empty()) {
        std::string c = std::move(todo.front());
        todo.pop_front();
        if (c == ".") {
            continue;
        }
        if (c == "..") {
            if (!done.empty()) {
                done.pop_back();
            }
            continue;
        }
        if (missing) {
            done.push_back(std::move(c));
            continue;
        }
        std::filesystem::path host = join(root, done) / c;
        struct stat st {};
        if (::lstat(host.c_str(), &st) != 0) {
            if (errno != ENOENT) {
                throw SandboxError("cannot resolve " + path + " in " + root.string() + ": " +
                                   host.string() + ": " + std::strerror(errno));
            }
            if (!create) {
                missing = true;
                done.push_back(std::move(c));
                continue;
            }
            if (::mkdir(host.c_str(), 0755) != 0 && errno != EEXIST) {
                throw SandboxError("cannot create directory " + path +
                                   " in the rootfs: " + std::strerror(errno));
            }
            if (::lstat(host.c_str(), &st) != 0) {
                throw SandboxError("cannot create directory " + path +
                                   " in the rootfs: " + std::strerror(errno));
            }
        }
        if (S_ISLNK(st.st_mode)) {
            if (++links > kMaxLinks) {
                throw SandboxError("cannot resolve " + path + " in the rootfs: too many links");
            }
            std::error_code ec;
            std::filesystem::path target = std::filesystem::read_symlink(host, ec);
            if (ec) {
                throw SandboxError("cannot read link " + host.string() + ": " + ec.message());
            }
            if (target.is_absolute()) {
                done.clear();
            }
            std::deque<std::string> t = split_components(target.string());
            todo.insert(todo.begin(), t.begin(), t.end());
            continue;
        }
        if (create && !S_ISDIR(st.st_mode)) {
            throw SandboxError("cannot create directory " + path +
                               " in the rootfs: " + host.string() + " is not a directory");
        }
        done.push_back(std::move(c));
    }
    return join(root, done);
}

}  // namespace

std::filesystem::path resolve_in_root(const std::filesystem::path& root, const std::string& path) {
    return resolve(root, path, false);
}

std::filesystem::path mkdir_in_root(const std::filesystem::path& root, const std::string& path) {
    return resolve(root, path, true);
}

std::string read_whole_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw SandboxError("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace kiln::sandbox::detail
