#include "exporter/tree_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "content/atomic_file.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

// libarchive's message, which may be null.
std::string archive_message(struct archive* a) {
    const char* m = archive_error_string(a);
    return m != nullptr ? m : "unknown error";
}

struct ArchiveFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

void add(archive* a, const fs::path& root, const fs::path& rel, std::int64_t mtime) {
    fs::path full = root / rel;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0)
        throw errno_error("cannot read " + full.string());
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    std::string name = rel.string() + (S_ISDIR(st.st_mode) ? "/" : "");
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), mtime, 0);
    archive_entry_set_size(e.get(), S_ISREG(st.st_mode) ? st.st_size : 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK)
        throw Error("cannot write archive: " + archive_message(a));
    if (S_ISREG(st.st_mode)) {
        UniqueFd fd(::open(full.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd)
            throw errno_error("cannot read " + full.string());
        std::vector<char> buf(1 << 16);
        for (;;) {
            ssize_t n = ::read(fd.get(), buf.data(), buf.size());
            if (n < 0)
                throw errno_error("cannot read " + full.string());
            if (n == 0)
                break;
            if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0)
                throw Error("cannot write archive: " + archive_message(a));
        }
    }
    if (S_ISDIR(st.st_mode)) {
        std::vector<std::string> names;
        for (auto& d : fs::directory_iterator(full))
            names.push_back(d.path().filename());
        std::sort(names.begin(), names.end());
        for (auto& n : names)
            add(a, root, rel / n, mtime);
    }
}
}  // namespace

void write_tree_tar(const fs::path& dir, int fd, std::int64_t mtime) {
    std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    archive_write_set_bytes_per_block(a.get(), 10240);
    if (archive_write_open_fd(a.get(), fd) != ARCHIVE_OK)
        throw Error("cannot write archive: " + archive_message(a.get()));
    std::vector<std::string> names;
    for (auto& d : fs::directory_iterator(dir))
        names.push_back(d.path().filename());
    std::sort(names.begin(), names.end());
    for (auto& n : names)
        add(a.get(), dir, n, mtime);
    if (archive_write_close(a.get()) != ARCHIVE_OK)
        throw Error("cannot write archive: " + archive_message(a.get()));
}

void write_archive(const fs::path& dest, const std::function<void(int fd)>& write) {
    if (dest == "-") {
        write(STDOUT_FILENO);
        return;
    }
    AtomicFile out(dest, fs::absolute(dest).parent_path(), 0644);
    write(out.fd());
    out.commit();
}

}  // namespace kiln::exporter
