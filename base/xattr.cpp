#include "base/xattr.h"

#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/error.h"

namespace kiln {

XattrTarget XattrTarget::at(int parent_fd, const std::string& name) {
    return path("/proc/self/fd/" + std::to_string(parent_fd) + "/" + name);
}

namespace {

ssize_t list_raw(const XattrTarget& t, char* buf, std::size_t size) {
    return t.fd() >= 0 ? ::flistxattr(t.fd(), buf, size)
                       : ::llistxattr(t.path().c_str(), buf, size);
}

ssize_t get_raw(const XattrTarget& t, const std::string& name, void* buf, std::size_t size) {
    return t.fd() >= 0 ? ::fgetxattr(t.fd(), name.c_str(), buf, size)
                       : ::lgetxattr(t.path().c_str(), name.c_str(), buf, size);
}

}  // namespace

std::vector<std::string> list_xattrs(const XattrTarget& t, const std::string& what,
                                     XattrReadErrors errors) {
    const bool skip = errors == XattrReadErrors::skip;
    std::string names;
    for (;;) {
        ssize_t n = list_raw(t, nullptr, 0);
        if (n < 0) {
            if (skip || errno == ENOTSUP || errno == ENODATA)
                return {};
            throw errno_error("cannot list extended attributes of " + what);
        }
        if (n == 0)
            return {};
        names.resize(static_cast<std::size_t>(n));
        n = list_raw(t, names.data(), names.size());
        if (n < 0) {
            if (errno == ERANGE)
                continue;  // grew in between
            if (skip)
                return {};
            throw errno_error("cannot list extended attributes of " + what);
        }
        names.resize(static_cast<std::size_t>(n));
        break;
    }
    std::vector<std::string> out;
    for (std::size_t pos = 0; pos < names.size();) {
        std::string name(names.c_str() + pos);
        pos += name.size() + 1;
        if (!name.empty())
            out.push_back(std::move(name));
    }
    return out;
}

std::optional<std::string> get_xattr(const XattrTarget& t, const std::string& name,
                                     const std::string& what, XattrReadErrors errors) {
    const bool skip = errors == XattrReadErrors::skip;
    std::string value;
    for (;;) {
        ssize_t n = get_raw(t, name, nullptr, 0);
        if (n < 0) {
            if (skip || errno == ENODATA)
                return std::nullopt;  // removed in between
            throw errno_error("cannot read extended attribute " + name + " of " + what);
        }
        value.resize(static_cast<std::size_t>(n));
        n = get_raw(t, name, value.data(), value.size());
        if (n < 0) {
            if (errno == ERANGE)
                continue;  // grew in between
            if (skip || errno == ENODATA)
                return std::nullopt;
            throw errno_error("cannot read extended attribute " + name + " of " + what);
        }
        value.resize(static_cast<std::size_t>(n));
        return value;
    }
}

Xattrs read_xattrs(const XattrTarget& t, const std::string& what, XattrReadErrors errors,
                   const XattrFilter& keep) {
    Xattrs out;
    for (std::string& name : list_xattrs(t, what, errors)) {
        if (!keep(name))
            continue;
        if (auto v = get_xattr(t, name, what, errors))
            out.emplace_back(std::move(name), std::move(*v));
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool xattr_refusal_ok(int err) {
    return err == ENOTSUP || (err == EPERM && ::geteuid() != 0);
}

bool xattr_refusal_ok_copy(int err) {
    return err == ENOTSUP || err == EPERM || err == EACCES;
}

void set_xattr(const XattrTarget& t, const std::string& name, const std::string& value,
               const std::string& what, XattrErrorOk ok) {
    int rc = t.fd() >= 0
                 ? ::fsetxattr(t.fd(), name.c_str(), value.data(), value.size(), 0)
                 : ::lsetxattr(t.path().c_str(), name.c_str(), value.data(), value.size(), 0);
    if (rc != 0 && !ok(errno))
        throw errno_error("cannot set extended attribute " + name + " on " + what);
}

void remove_xattr(const XattrTarget& t, const std::string& name, const std::string& what,
                  XattrErrorOk ok) {
    int rc = t.fd() >= 0 ? ::fremovexattr(t.fd(), name.c_str())
                         : ::lremovexattr(t.path().c_str(), name.c_str());
    if (rc != 0 && errno != ENODATA && !ok(errno))
        throw errno_error("cannot remove extended attribute " + name + " of " + what);
}

void copy_xattrs(const XattrTarget& src, const XattrTarget& dst, const std::string& what,
                 XattrReadErrors read_errors, XattrErrorOk ok, const XattrFilter& keep) {
    for (const auto& [name, value] : read_xattrs(src, what, read_errors, keep))
        set_xattr(dst, name, value, what, ok);
}

}  // namespace kiln
