#include "solver/copy_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace kiln::solver {

namespace {

// 2: files carry the source inode and ctime (a record 1 means one full copy).
constexpr const char* kHeader = "kiln-copy-record 2";

// Paths may hold any byte but NUL: newlines and backslashes are escaped so a
// record is one line per entry.
std::string escape(const std::string& p) {
    std::string out;
    out.reserve(p.size());
    for (char c : p) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string unescape(const std::string& p) {
    std::string out;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] != '\\') {
            out += p[i];
            continue;
        }
        if (++i == p.size())
            throw NotIncremental("malformed copy record");
        out += p[i] == 'n' ? '\n' : p[i];
    }
    return out;
}

std::string hex_of(const std::array<unsigned char, 32>& d) {
    static const char* digits = "0123456789abcdef";
    std::string out(64, '0');
    for (std::size_t i = 0; i < d.size(); ++i) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    return out;
}

std::array<unsigned char, 32> bin_of(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        throw NotIncremental("malformed copy record");
    };
    if (hex.size() != 64)
        throw NotIncremental("malformed copy record");
    std::array<unsigned char, 32> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
    return out;
}

long long ns_of(const struct timespec& t) {
    return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

// "/a/b/c" → "/a", "/a/b", "/a/b/c" (the root itself is not a layer entry).
std::vector<std::string> dirs_on_the_way(const std::string& dir_path) {
    std::vector<std::string> out;
    for (std::size_t at = dir_path.find('/', 1); at != std::string::npos;
         at = dir_path.find('/', at + 1))
        out.push_back(dir_path.substr(0, at));
    if (dir_path.size() > 1)
        out.push_back(dir_path);
    return out;
}

long long mtime_in(const RootDir& root, const std::string& path) {
    InRoot at = root.resolve(path, Follow::not_last);
    return at.exists && S_ISDIR(at.st.st_mode) ? ns_of(at.st.st_mtim) : -1;
}

// The directory holding in-root `path` in a tree kiln is writing (no link
// followed), and the entry's name.
std::pair<UniqueFd, std::string> parent_in(const RootDir& root, const std::string& path) {
    auto slash = path.rfind('/');
    std::string parent = path.substr(0, slash);
    while (!parent.empty() && parent.front() == '/')
        parent.erase(0, 1);
    UniqueFd dir = parent.empty() ? UniqueFd(::fcntl(root.fd(), F_DUPFD_CLOEXEC, 0))
                                  : open_beneath(root.fd(), parent, O_RDONLY | O_DIRECTORY);
    return {std::move(dir), path.substr(slash + 1)};
}

}  // namespace

std::string CopyRecord::serialize() const {
    // Appended in place (no stream): a 20,000-file record is about 3 MB, and
    // a stream's buffer plus its copy would hold it three times at once.
    std::string out;
    std::size_t size = 32;
    for (const auto& [path, f] : files)
        size += 200 + path.size();
    for (const auto* set : {&others, &created_dirs, &dated_dirs})
        for (const auto& p : *set)
            size += 4 + p.size();
    out.reserve(size);
    out += kHeader;
    out += '\n';
    char buf[32];
    auto number = [&](auto v, int base = 10) {
        auto r = std::to_chars(buf, buf + sizeof buf, v, base);
        out.append(buf, r.ptr);
        out += ' ';
    };
    for (const auto& [path, f] : files) {
        out += "f ";
        out += hex_of(f.digest);
        out += ' ';
        number(f.size);
        number(f.mtime_s);
        number(f.mtime_ns);
        number(f.mode, 8);
        number(f.uid);
        number(f.gid);
        number(f.xattrs ? 1 : 0);
        number(f.ino);
        number(f.ctime_s);
        number(f.ctime_ns);
        out += escape(path);
        out += '\n';
    }
    auto lines = [&](char kind, const std::set<std::string>& paths) {
        for (const auto& p : paths) {
            out += kind;
            out += ' ';
            out += escape(p);
            out += '\n';
        }
    };
    lines('e', others);
    lines('d', created_dirs);
    lines('t', dated_dirs);
    return out;
}

namespace {

// The next space-separated number of a record line; throws NotIncremental.
template <class T>
T field(std::string_view& line, int base = 10) {
    T v{};
    auto r = std::from_chars(line.data(), line.data() + line.size(), v, base);
    if (r.ec != std::errc() || r.ptr == line.data() + line.size() || *r.ptr != ' ')
        throw NotIncremental("malformed copy record");
    line.remove_prefix(static_cast<std::size_t>(r.ptr - line.data()) + 1);
    return v;
}

}  // namespace

CopyRecord CopyRecord::parse(const std::string& text) {
    CopyRecord r;
    std::string_view rest(text);
    auto next_line = [&](std::string_view& line) {
        if (rest.empty())
            return false;
        auto nl = rest.find('\n');
        line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        return true;
    };
    std::string_view line;
    if (!next_line(line) || line != kHeader)
        throw NotIncremental("not a copy record");
    while (next_line(line)) {
        if (line.size() < 3 || line[1] != ' ')
            throw NotIncremental("malformed copy record");
        const char kind = line[0];
        line.remove_prefix(2);
        if (kind == 'f') {
            File file;
            if (line.size() < 65 || line[64] != ' ')
                throw NotIncremental("malformed copy record");
            file.digest = bin_of(line.substr(0, 64));
            line.remove_prefix(65);
            file.size = field<long long>(line);
            file.mtime_s = field<long long>(line);
            file.mtime_ns = field<long long>(line);
            file.mode = field<mode_t>(line, 8);
            file.uid = field<uid_t>(line);
            file.gid = field<gid_t>(line);
            file.xattrs = field<int>(line) != 0;
            file.ino = field<unsigned long long>(line);
            file.ctime_s = field<long long>(line);
            file.ctime_ns = field<long long>(line);
            r.files.insert_or_assign(unescape(std::string(line)), file);
            continue;
        }
        std::string path = unescape(std::string(line));
        if (kind == 'e')
            r.others.insert(std::move(path));
        else if (kind == 'd')
            r.created_dirs.insert(std::move(path));
        else if (kind == 't')
            r.dated_dirs.insert(std::move(path));
        else
            throw NotIncremental("malformed copy record");
    }
    return r;
}

std::string CopyRecorder::rel_of(const Place& src) const {
    if (src.path.size() > context_root_.size() && src.path.starts_with(context_root_) &&
        src.path[context_root_.size()] == '/')
        return src.path.substr(context_root_.size() + 1);
    return "";
}

std::array<unsigned char, 32> CopyRecorder::digest_of(const Place& src, const struct stat& st) {
    return bin_of(stats_.digest(rel_of(src), src.path, st).hex());
}

void CopyRecorder::noted(const Place& src, const struct stat& st, const Place& dst, bool created,
                         mode_t mode, uid_t uid, gid_t gid) {
    if (S_ISDIR(st.st_mode)) {
        if (created || made_by_copy(dst))
            made_.created_dirs.insert(dst.path);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        made_.others.insert(dst.path);
        return;
    }
    CopyRecord::File f;
    f.digest = digest_of(src, st);
    f.size = st.st_size;
    f.mtime_s = st.st_mtim.tv_sec;
    f.mtime_ns = st.st_mtim.tv_nsec;
    f.mode = mode;
    f.uid = uid;
    f.gid = gid;
    f.xattrs = ::llistxattr(src.path.c_str(), nullptr, 0) > 0;
    f.ino = st.st_ino;
    f.ctime_s = st.st_ctim.tv_sec;
    f.ctime_ns = st.st_ctim.tv_nsec;
    made_.files[dst.path] = f;
}

void CopyRecorder::before_copy(const RootDir& root, const std::string& dir_path) {
    for (const auto& d : dirs_on_the_way(dir_path))
        mtimes_before_[d] = mtime_in(root, d);
}

void CopyRecorder::after_copy(const RootDir& root, const std::string& dir_path) {
    for (const auto& d : dirs_on_the_way(dir_path)) {
        long long now = mtime_in(root, d);
        auto it = mtimes_before_.find(d);
        auto source = by_source_.find(d);
        if (now >= 0 && (it == mtimes_before_.end() || it->second != now) &&
            (source == by_source_.end() || source->second != now))
            made_.dated_dirs.insert(d);
    }
}

bool CopyRebaser::keep(const Place& src, const struct stat& st, const Place& dst, mode_t mode,
                       uid_t uid, gid_t gid) {
    auto it = previous_.files.find(dst.path);
    if (it == previous_.files.end())
        return false;
    const CopyRecord::File& f = it->second;
    if (f.xattrs || f.size != st.st_size || f.mtime_s != st.st_mtim.tv_sec ||
        f.mtime_ns != st.st_mtim.tv_nsec || f.mode != mode || f.uid != uid || f.gid != gid)
        return false;
    // What the clone holds there must still be that file.
    // (Its owner only as root: without privileges the copy could not set it either.)
    struct stat at;
    if (::fstatat(dst.dir, dst.name.c_str(), &at, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(at.st_mode) || at.st_size != st.st_size || (at.st_mode & 07777) != mode ||
        (root_ && (at.st_uid != uid || at.st_gid != gid)) ||
        at.st_mtim.tv_sec != st.st_mtim.tv_sec || at.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
        return false;
    // The source inode unchanged since the record: no xattr was added and the
    // content is the recorded digest, without reading either (a path lookup
    // and a stat-cache probe per file, on 20,000 files).
    const bool untouched =
        f.ino == st.st_ino && f.ctime_s == st.st_ctim.tv_sec && f.ctime_ns == st.st_ctim.tv_nsec;
    if (!untouched) {
        if (::llistxattr(src.path.c_str(), nullptr, 0) > 0)
            return false;
        if (digest_of(src, st) != f.digest)
            return false;
    }
    ++kept_;
    just_kept_ = &it->first;
    return true;
}

void CopyRebaser::noted(const Place& src, const struct stat& st, const Place& dst, bool created,
                        mode_t mode, uid_t uid, gid_t gid) {
    if (!created && just_kept_ && *just_kept_ == dst.path) {
        // The record moves over (no copy): previous_ then holds only what
        // this copy has not met, and the two never weigh twice the context.
        auto node = previous_.files.extract(dst.path);
        CopyRecord::File& f = node.mapped();
        f.kept = true;
        f.ino = st.st_ino;  // it may have been checked the long way: next time not
        f.ctime_s = st.st_ctim.tv_sec;
        f.ctime_ns = st.st_ctim.tv_nsec;
        auto in = made_.files.insert(std::move(node));
        if (!in.inserted)
            in.position->second = in.node.mapped();
        just_kept_ = nullptr;
        return;
    }
    just_kept_ = nullptr;
    CopyRecorder::noted(src, st, dst, created, mode, uid, gid);
}

bool CopyRebaser::made_by_copy(const Place& dst) {
    return previous_.created_dirs.count(dst.path) > 0;
}

void CopyRebaser::before_copy(const RootDir&, const std::string&) {}

void CopyRebaser::after_copy(const RootDir& root, const std::string& dir_path) {
    // A full copy over the image dated these (it created them or something in
    // them): so does this one, with its own time.
    for (const auto& d : dirs_on_the_way(dir_path)) {
        if (!previous_.dated_dirs.count(d))
            continue;
        auto [dir, name] = parent_in(root, d);
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
        if (::utimensat(dir.get(), name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
            throw errno_error("cannot date " + d);
        made_.dated_dirs.insert(d);
    }
}

void CopyRebaser::finish(const RootDir& root) {
    // Deepest first, so a directory is emptied before it goes.
    std::vector<std::pair<std::string, bool>> gone;  // path, is a directory
    for (const auto& [p, _] : previous_.files)
        if (!made_.files.count(p))
            gone.emplace_back(p, false);
    for (const auto& p : previous_.others)
        if (!made_.others.count(p) && !made_.files.count(p))
            gone.emplace_back(p, false);
    for (const auto& p : previous_.created_dirs)
        if (!made_.created_dirs.count(p))
            gone.emplace_back(p, true);
    std::sort(gone.begin(), gone.end(), [](const auto& a, const auto& b) {
        return std::count(a.first.begin(), a.first.end(), '/') >
               std::count(b.first.begin(), b.first.end(), '/');
    });
    for (const auto& [path, is_dir] : gone) {
        auto [dir, name] = parent_in(root, path);
        struct stat parent;
        if (::fstat(dir.get(), &parent) != 0)
            throw errno_error("cannot read " + path);
        struct stat st;
        if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;  // replaced by a directory's removal above, or never there
        if (S_ISDIR(st.st_mode) != is_dir)
            throw NotIncremental(path + " changed type");
        if (::unlinkat(dir.get(), name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0) {
            if (errno == ENOTEMPTY || errno == EEXIST)
                throw NotIncremental(path + " holds more than the copy made");
            throw errno_error("cannot remove " + path);
        }
        // The parent keeps the mtime the copy gave it.
        struct timespec ts[2] = {parent.st_atim, parent.st_mtim};
        ::futimens(dir.get(), ts);
    }
}

}  // namespace kiln::solver
