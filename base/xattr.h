// Extended attributes of one file-system entry: listing, reading, writing.
//
// Contract: an XattrTarget names the entry either by an open fd (the f*xattr calls) or by a
// path whose last component is never followed (the l*xattr calls; a parent fd and a name
// become /proc/self/fd/N/name, so the entry is reached through that fd). Nothing here
// filters names: which namespaces a caller keeps (overlay's own trusted.overlay.*, ...) and
// which refusals it tolerates stay the caller's choice, passed in as arguments.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

// (name, value) pairs.
using Xattrs = std::vector<std::pair<std::string, std::string>>;
// Which attribute names a caller keeps.
using XattrFilter = std::function<bool(const std::string& name)>;

class XattrTarget {
  public:
    static XattrTarget fd(int fd) { return XattrTarget(fd, {}); }
    // The entry at `path` itself, a symlink included.
    static XattrTarget path(std::string path) { return XattrTarget(-1, std::move(path)); }
    // The entry `name` in the directory open as parent_fd, a symlink included.
    static XattrTarget at(int parent_fd, const std::string& name);

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

  private:
    XattrTarget(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_;
    std::string path_;
};

// What a read does when the kernel refuses to list or read an attribute.
enum class XattrReadErrors {
    // Throws kiln::Error "cannot list extended attributes of <what>" or "cannot read extended
    // attribute <name> of <what>"; a file system without xattrs (ENOTSUP) lists nothing and
    // an attribute removed in between (ENODATA) is left out.
    strict,
    // Any refusal leaves out what it refused, as cp -a does.
    skip,
};

// The names of the entry's attributes, in the kernel's order; empty names left out.
std::vector<std::string> list_xattrs(const XattrTarget& t, const std::string& what,
                                     XattrReadErrors errors = XattrReadErrors::strict);

// One attribute's value; nullopt when the entry has no such attribute (ENODATA) or,
// with XattrReadErrors::skip, when reading it fails at all.
std::optional<std::string> get_xattr(const XattrTarget& t, const std::string& name,
                                     const std::string& what,
                                     XattrReadErrors errors = XattrReadErrors::strict);

// Every attribute for which keep(name) holds, sorted by name (list order depends on the
// file system; sorted pairs compare and serialise the same everywhere).
Xattrs read_xattrs(const XattrTarget& t, const std::string& what, XattrReadErrors errors,
                   const XattrFilter& keep);

// Which errno values a write may ignore (the attribute is then not set).
using XattrErrorOk = bool (*)(int err);
// ENOTSUP (the file system or namespace has no such attributes) and, when not root, EPERM
// (trusted.* and security.* need privileges): what layer unpacking and the snapshotter skip.
bool xattr_refusal_ok(int err);
// Also EACCES and EPERM as root: what cp -a skips when copying files.
bool xattr_refusal_ok_copy(int err);

// Sets `name` to `value`. A refusal for which ok(errno) holds is ignored; any other throws
// kiln::Error "cannot set extended attribute <name> on <what>".
void set_xattr(const XattrTarget& t, const std::string& name, const std::string& value,
               const std::string& what, XattrErrorOk ok);
// Removes `name`; a missing attribute (ENODATA) or a tolerated refusal is ignored; otherwise
// throws kiln::Error "cannot remove extended attribute <name> of <what>".
void remove_xattr(const XattrTarget& t, const std::string& name, const std::string& what,
                  XattrErrorOk ok);

// Copies every attribute of `src` for which keep(name) holds onto `dst`, reading with
// `read_errors` and writing with `ok`.
void copy_xattrs(const XattrTarget& src, const XattrTarget& dst, const std::string& what,
                 XattrReadErrors read_errors, XattrErrorOk ok, const XattrFilter& keep);

// Every name kept.
inline bool all_xattrs(const std::string&) {
    return true;
}

}  // namespace kiln
