#include "exporter/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "base/xattr.h"
#include "content/oci.h"

namespace kiln::exporter {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = 128 * 1024;

struct ArchiveWriteFree {
    void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};
struct DirClose {
    void operator()(DIR* d) const { ::closedir(d); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveWriteFree>;
using EntryPtr = std::unique_ptr<archive_entry, ArchiveEntryFree>;
using DirPtr = std::unique_ptr<DIR, DirClose>;

// The tail of the pipeline after the tar writer: diffID hash, compressor,
// blob store. libarchive calls back into C++ through here, so exceptions are
// parked and rethrown once libarchive has returned.
struct Pipeline {
    content::Sha256 diff_hash;
    bool hash_diff = true;  // uncompressed: the blob store's own hash is the diffID
    std::unique_ptr<Compressor> compressor;
    std::exception_ptr error;
    // libarchive writes unbuffered (a header, a file's data, its padding, one
    // call each): small pieces are gathered here first.
    std::vector<char> pending;

    void push(const void* buf, std::size_t n) {
        if (hash_diff)
            diff_hash.update(buf, n);
        compressor->write(buf, n);
    }
    void flush() {
        if (!pending.empty())
            push(pending.data(), pending.size());
        pending.clear();
    }
};

la_ssize_t write_cb(struct archive*, void* ctx, const void* buf, size_t n) {
    auto* p = static_cast<Pipeline*>(ctx);
    if (p->error)
        return -1;
    try {
        // A whole chunk goes on at once (no copy into `pending`).
        const char* c = static_cast<const char*>(buf);
        if (n >= kChunk) {
            p->flush();
            p->push(buf, n);
        } else if (p->pending.size() + n <= kChunk) {
            p->pending.insert(p->pending.end(), c, c + n);
        } else {
            p->flush();
            p->pending.insert(p->pending.end(), c, c + n);
        }
    } catch (...) {
        p->error = std::current_exception();
        return -1;
    }
    return static_cast<la_ssize_t>(n);
}

// Overlay's own bookkeeping is never image content.
bool skip_xattr(const std::string& name) {
    return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
}

// Sorted (name, value) pairs: the order llistxattr reports depends on the filesystem.
Xattrs read_xattrs(const fs::path& p) {
    return kiln::read_xattrs(XattrTarget::path(p.string()), p.string(), XattrReadErrors::strict,
                             [](const std::string& name) { return !skip_xattr(name); });
}

// overlay_whiteouts: entries that stand for overlay's own whiteout forms.
enum class Synthetic { none, whiteout, opaque };

constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr const char* kOpaqueMarker = ".wh..wh..opq";

struct Child {
    std::string key;  // name, plus "/" for directories: the byte-wise sort key
    std::string name;
    struct stat st;
    Synthetic synthetic = Synthetic::none;
};

bool is_overlay_whiteout(const struct stat& st) {
    return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

bool is_overlay_opaque(int dir_fd) {
    for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
        char v[4];
        if (::fgetxattr(dir_fd, name, v, sizeof v) == 1 && v[0] == 'y')
            return true;
    }
    return false;
}

// Where each entry of an uncompressed layer kiln wrote lies: its headers
// (PAX extended header included) and data, up to the next entry.
struct PreviousEntry {
    std::int64_t offset = 0, length = 0;
    std::int64_t size = 0, mtime = 0;
    mode_t mode = 0;
    std::int64_t uid = 0, gid = 0;
    bool plain = false;  // a regular file with no xattrs and no link
};

class PreviousLayer {
  public:
    PreviousLayer(const content::BlobStore& store, const content::Digest& layer)
        : path_(store.path(layer)), fd_(::open(path_.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (!fd_)
            return;  // gone: every entry is written afresh
        struct stat st;
        if (::fstat(fd_.get(), &st) != 0)
            return;
        struct ReadFree {
            void operator()(struct archive* a) const { archive_read_free(a); }
        };
        std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
        if (!a || archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
            archive_read_open_filename(a.get(), path_.c_str(), 64 * 1024) != ARCHIVE_OK)
            return;
        std::string last;
        archive_entry* e = nullptr;
        for (;;) {
            int rc = archive_read_next_header(a.get(), &e);
            if (rc == ARCHIVE_EOF)
                break;
            if (rc != ARCHIVE_OK) {
                entries_.clear();
                return;
            }
            const std::int64_t at = archive_read_header_position(a.get());
            if (!last.empty())
                entries_[last].length = at - entries_[last].offset;
            PreviousEntry p;
            p.offset = at;
            p.size = archive_entry_size(e);
            p.mtime = archive_entry_mtime(e);
            p.mode = archive_entry_mode(e);
            p.uid = archive_entry_uid(e);
            p.gid = archive_entry_gid(e);
            p.plain = archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
                      archive_entry_xattr_count(e) == 0;
            const char* name = archive_entry_pathname(e);
            last = name ? name : "";
            entries_[last] = p;
            if (archive_read_data_skip(a.get()) != ARCHIVE_OK) {
                entries_.clear();
                return;
            }
        }
        // kiln's layers end with exactly two zero blocks.
        if (!last.empty())
            entries_[last].length = st.st_size - 1024 - entries_[last].offset;
        // An entry is whole 512-byte blocks: a header, maybe an extended one,
        // and its data padded; anything else is not copied.
        for (auto& [_, p] : entries_) {
            const std::int64_t data = (p.size + 511) / 512 * 512;
            if (p.length < 512 + data || (p.length - data) % 512 != 0)
                p.plain = false;
        }
    }

    const PreviousEntry* find(const std::string& path) const {
        auto it = entries_.find(path);
        return it == entries_.end() ? nullptr : &it->second;
    }
    int fd() const { return fd_.get(); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
    UniqueFd fd_;
    std::map<std::string, PreviousEntry> entries_;
};

class TreeWriter {
  public:
    TreeWriter(struct archive* a, Pipeline& pipe, fs::path root, const LayerOptions& options)
        : a_(a),
          pipe_(pipe),
          root_(std::move(root)),
          sde_(options.source_date_epoch),
          overlay_whiteouts_(options.overlay_whiteouts),
          omit_empty_dir_(options.omit_empty_dir),
          unchanged_(options.unchanged),
          buf_(kChunk) {
        if (options.previous_store && options.previous && options.unchanged)
            previous_.emplace(*options.previous_store, *options.previous);
    }

    void write_dir(int dir_fd, const std::string& rel) {
        write_children(dir_fd, rel, sorted_children(dir_fd, rel));
    }

  private:
    void write_children(int dir_fd, const std::string& rel, std::vector<Child> children) {
        for (Child& c : children) {
            std::string path = rel + c.key;
            if (S_ISSOCK(c.st.st_mode))
                continue;  // tar cannot hold sockets
            if (c.synthetic != Synthetic::none) {
                write_marker(path, c.st);
                continue;
            }
            if (!S_ISDIR(c.st.st_mode)) {
                write_entry(dir_fd, c, path);
                continue;
            }
            UniqueFd sub(
                ::openat(dir_fd, c.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub)
                throw errno_error("cannot open directory " + (root_ / path).string());
            auto kids = sorted_children(sub.get(), path);
            if (kids.empty() && omit_empty_dir_ &&
                omit_empty_dir_(path.substr(0, path.size() - 1), c.st))
                continue;
            write_entry(dir_fd, c, path);
            write_children(sub.get(), path, std::move(kids));
        }
    }

    std::vector<Child> sorted_children(int dir_fd, const std::string& rel) {
        fs::path where = root_ / rel;
        // fdopendir takes ownership of the fd it is given, so hand it a duplicate.
        int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
        if (dup_fd < 0)
            throw errno_error("cannot read directory " + where.string());
        DirPtr dir(::fdopendir(dup_fd));
        if (!dir) {
            ::close(dup_fd);
            throw errno_error("cannot read directory " + where.string());
        }
        std::vector<Child> out;
        for (;;) {
            errno = 0;
            dirent* d = ::readdir(dir.get());
            if (d == nullptr) {
                if (errno != 0)
                    throw errno_error("cannot read directory " + where.string());
                break;
            }
            std::string name = d->d_name;
            if (name == "." || name == "..")
                continue;
            Child c;
            c.name = name;
            if (::fstatat(dir_fd, name.c_str(), &c.st, AT_SYMLINK_NOFOLLOW) != 0) {
                throw errno_error("cannot stat " + (where / name).string());
            }
            c.key = S_ISDIR(c.st.st_mode) ? name + "/" : name;
            if (overlay_whiteouts_ && is_overlay_whiteout(c.st)) {
                c.key = kWhiteoutPrefix + name;
                c.synthetic = Synthetic::whiteout;
            }
            out.push_back(std::move(c));
        }
        if (overlay_whiteouts_ && is_overlay_opaque(dir_fd)) {
            Child c;
            c.name = c.key = kOpaqueMarker;
            if (::fstat(dir_fd, &c.st) != 0)
                throw errno_error("cannot stat " + where.string());
            c.synthetic = Synthetic::opaque;
            out.push_back(std::move(c));
        }
        std::sort(out.begin(), out.end(),
                  [](const Child& x, const Child& y) { return x.key < y.key; });
        return out;
    }

    // An empty, mode-0, root-owned file standing for a whiteout or an opaque directory.
    void write_marker(const std::string& path, const struct stat& st) {
        flush_previous();
        EntryPtr e(archive_entry_new());
        if (!e)
            throw Error("out of memory writing a layer");
        archive_entry_copy_pathname(e.get(), path.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0);
        archive_entry_set_uid(e.get(), 0);
        archive_entry_set_gid(e.get(), 0);
        archive_entry_set_size(e.get(), 0);
        std::int64_t mtime = st.st_mtim.tv_sec;
        if (sde_ && mtime > *sde_)
            mtime = *sde_;
        archive_entry_set_mtime(e.get(), mtime, 0);
        check(archive_write_header(a_, e.get()), root_ / path);
    }

    // The entry as the previous layer holds it, when it is the same file (the
    // very inode, so its xattrs are those the entry says: none). Consecutive
    // entries are copied as one range.
    bool copy_previous(const Child& c, const std::string& path) {
        const struct stat& st = c.st;
        if (!previous_ || !S_ISREG(st.st_mode) || !unchanged_(path))
            return false;
        const PreviousEntry* p = previous_->find(path);
        std::int64_t mtime = st.st_mtim.tv_sec;
        if (sde_ && mtime > *sde_)
            mtime = *sde_;
        if (!p || !p->plain || p->length <= 0 || p->size != st.st_size || p->mtime != mtime ||
            p->mode != st.st_mode || p->uid != st.st_uid || p->gid != st.st_gid)
            return false;
        if (st.st_nlink > 1)  // a file linked twice in this tree is a link entry the second time
            links_.try_emplace({st.st_dev, st.st_ino}, path);
        if (range_len_ > 0 && range_at_ + range_len_ == p->offset) {
            range_len_ += p->length;
            return true;
        }
        flush_previous();
        // The entry before's data padding is written when that entry is finished.
        check(archive_write_finish_entry(a_), root_ / path);
        range_at_ = p->offset;
        range_len_ = p->length;
        return true;
    }

  public:
    // Writes the pending range of previous entries. libarchive writes unbuffered
    // (bytes_per_block 0), so these bytes land in order.
    void flush_previous() {
        std::int64_t at = range_at_, left = range_len_;
        range_len_ = 0;
        while (left > 0) {
            std::size_t want = static_cast<std::size_t>(
                std::min<std::int64_t>(left, static_cast<std::int64_t>(buf_.size())));
            ssize_t n = ::pread(previous_->fd(), buf_.data(), want, at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                throw errno_error("cannot read " + previous_->path().string());
            if (write_cb(a_, &pipe_, buf_.data(), static_cast<std::size_t>(n)) < 0)
                fail(previous_->path());
            at += n;
            left -= n;
        }
    }

  private:
    void write_entry(int dir_fd, const Child& c, const std::string& path) {
        if (copy_previous(c, path))
            return;
        flush_previous();
        const struct stat& st = c.st;
        fs::path full = root_ / path;
        EntryPtr e(archive_entry_new());
        if (!e)
            throw Error("out of memory writing a layer");
        archive_entry_copy_pathname(e.get(), path.c_str());
        archive_entry_set_mode(e.get(), st.st_mode);
        archive_entry_set_uid(e.get(), st.st_uid);
        archive_entry_set_gid(e.get(), st.st_gid);
        std::int64_t mtime = st.st_mtim.tv_sec;
        if (sde_ && mtime > *sde_)
            mtime = *sde_;
        archive_entry_set_mtime(e.get(), mtime, 0);

        bool with_data = false;
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
            auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, path);
            if (!first) {
                archive_entry_copy_hardlink(e.get(), it->second.c_str());
                archive_entry_set_size(e.get(), 0);
            } else {
                with_data = true;
            }
        } else if (S_ISREG(st.st_mode)) {
            with_data = true;
        }
        if (with_data)
            archive_entry_set_size(e.get(), st.st_size);
        if (S_ISLNK(st.st_mode))
            archive_entry_copy_symlink(e.get(), read_link(dir_fd, c, full).c_str());
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            archive_entry_set_rdev(e.get(), st.st_rdev);
        for (auto& [name, value] : read_xattrs(full)) {
            archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
        }

        UniqueFd fd;
        if (with_data && st.st_size > 0) {
            // Open before writing the header so an unreadable file fails cleanly.
            fd = UniqueFd(::openat(dir_fd, c.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd)
                throw errno_error("cannot open " + full.string());
        }
        check(archive_write_header(a_, e.get()), full);
        if (fd)
            copy_data(fd.get(), st.st_size, full);
    }

    std::string read_link(int dir_fd, const Child& c, const fs::path& full) {
        std::string target(static_cast<std::size_t>(c.st.st_size > 0 ? c.st.st_size : 256), '\0');
        for (;;) {
            ssize_t n = ::readlinkat(dir_fd, c.name.c_str(), target.data(), target.size());
            if (n < 0)
                throw errno_error("cannot read symlink " + full.string());
            if (static_cast<std::size_t>(n) < target.size()) {
                target.resize(static_cast<std::size_t>(n));
                return target;
            }
            target.resize(target.size() * 2);
        }
    }

    void copy_data(int fd, std::int64_t size, const fs::path& full) {
        std::int64_t left = size;
        while (left > 0) {
            std::size_t want = static_cast<std::size_t>(
                std::min<std::int64_t>(left, static_cast<std::int64_t>(buf_.size())));
            ssize_t n = ::read(fd, buf_.data(), want);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                throw errno_error("cannot read " + full.string());
            }
            if (n == 0)
                throw Error("file " + full.string() + " shrank while it was being read");
            la_ssize_t w = archive_write_data(a_, buf_.data(), static_cast<std::size_t>(n));
            if (w < 0)
                fail(full);
            left -= n;
        }
    }

    void check(int rc, const fs::path& full) {
        if (rc == ARCHIVE_OK)
            return;
        if (rc == ARCHIVE_WARN && !pipe_.error)
            return;
        fail(full);
    }

    [[noreturn]] void fail(const fs::path& full) {
        if (pipe_.error)
            std::rethrow_exception(pipe_.error);
        const char* msg = archive_error_string(a_);
        throw Error("cannot write " + full.string() +
                    " into the layer: " + (msg ? msg : "unknown tar error"));
    }

    struct archive* a_;
    Pipeline& pipe_;
    fs::path root_;
    std::optional<std::int64_t> sde_;
    bool overlay_whiteouts_ = false;
    std::function<bool(const std::string&, const struct stat&)> omit_empty_dir_;
    std::function<bool(const std::string&)> unchanged_;
    std::optional<PreviousLayer> previous_;
    std::int64_t range_at_ = 0, range_len_ = 0;  // previous entries not yet copied
    std::vector<char> buf_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

ArchivePtr new_tar_writer(Pipeline& pipe, const fs::path& dir) {
    ArchivePtr a(archive_write_new());
    if (!a)
        throw Error("out of memory writing a layer");
    auto check = [&](int rc) {
        if (rc != ARCHIVE_OK) {
            const char* msg = archive_error_string(a.get());
            throw Error("cannot set up the tar writer for " + dir.string() + ": " +
                        (msg ? msg : "unknown tar error"));
        }
    };
    check(archive_write_set_format_pax_restricted(a.get()));
    // SCHILY.xattr only: the LIBARCHIVE.xattr twins would be noise to other tools.
    check(archive_write_set_format_option(a.get(), "pax", "xattrheader", "SCHILY"));
    check(archive_write_add_filter_none(a.get()));
    // Unbuffered: every entry reaches the pipeline when written, so an entry
    // copied from a previous layer (TreeWriter::copy_previous) falls in place.
    check(archive_write_set_bytes_per_block(a.get(), 0));
    // End with the two zero blocks and no padding to 10 KiB, as Go's archive/tar does.
    check(archive_write_set_bytes_in_last_block(a.get(), 1));
    check(archive_write_open(a.get(), &pipe, nullptr, write_cb, nullptr));
    return a;
}

}  // namespace

namespace {

// The tar of `dir` into `sink` (compressed per options); the diffID when `hash_diff`.
content::Digest tar_tree(const fs::path& dir, const Sink& sink, const LayerOptions& options,
                         bool hash_diff) {
    UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root)
        throw errno_error("cannot open layer directory " + dir.string());
    Pipeline pipe;
    pipe.pending.reserve(kChunk);
    pipe.hash_diff = hash_diff;
    pipe.compressor = make_compressor(options.compression, sink);
    {
        ArchivePtr a = new_tar_writer(pipe, dir);
        TreeWriter tw(a.get(), pipe, dir, options);
        try {
            tw.write_dir(root.get(), "");
            tw.flush_previous();
        } catch (...) {
            // archive_write_free() would still flush a trailer through the
            // pipeline; a parked error makes the callback refuse it.
            if (!pipe.error)
                pipe.error = std::current_exception();
            throw;
        }
        int rc = archive_write_close(a.get());
        if (pipe.error)
            std::rethrow_exception(pipe.error);
        if (rc != ARCHIVE_OK) {
            const char* msg = archive_error_string(a.get());
            throw Error("cannot finish the layer for " + dir.string() + ": " +
                        (msg ? msg : "unknown tar error"));
        }
    }
    pipe.flush();
    pipe.compressor->finish();
    return hash_diff ? pipe.diff_hash.finish() : content::Digest();
}

}  // namespace

LayerBlob write_layer(const fs::path& dir, const content::BlobStore& store,
                      const LayerOptions& options) {
    auto blob = store.writer();
    // Uncompressed, the blob store's own hash is the diffID.
    const bool hash_diff = options.compression.kind != Compression::none;
    content::Digest diff_id = tar_tree(
        dir, [&blob](const void* d, std::size_t n) { blob.write(d, n); }, options, hash_diff);
    content::BlobInfo info = blob.commit();
    LayerBlob out;
    out.diff_id = hash_diff ? diff_id : info.digest;
    out.digest = info.digest;
    out.size = info.size;
    out.compression = options.compression.kind;
    return out;
}

content::Digest write_tree(const fs::path& dir, const Sink& out, const LayerOptions& options) {
    return tar_tree(dir, out, options, true);
}

LayerBlob compress_layer(const content::BlobStore& from, const content::Digest& diff_id,
                         const content::BlobStore& to, const CompressionOptions& options,
                         const Sink& also) {
    auto reader = from.reader(diff_id);
    auto blob = to.writer();
    auto compressor = make_compressor(options, [&blob, &also](const void* d, std::size_t n) {
        blob.write(d, n);
        if (also)
            also(d, n);
    });
    std::vector<char> buf(kChunk);
    // read() returns 0 only after it verified the whole blob against diff_id,
    // so nothing is committed from a corrupt source.
    while (std::size_t n = reader.read(buf.data(), buf.size()))
        compressor->write(buf.data(), n);
    compressor->finish();
    content::BlobInfo info = blob.commit();
    LayerBlob out;
    out.diff_id = diff_id;
    out.digest = info.digest;
    out.size = info.size;
    out.compression = options.kind;
    return out;
}

std::string layer_media_type(Compression c, bool oci) {
    namespace mt = content::media_type;
    switch (c) {
        case Compression::none:
            return oci ? mt::kOciLayer : mt::kDockerLayer;
        case Compression::gzip:
            return oci ? mt::kOciLayerGzip : mt::kDockerLayerGzip;
        case Compression::zstd:
            // Docker schema2 has no zstd layer type; BuildKit uses OCI's there too.
            return mt::kOciLayerZstd;
    }
    throw Error("unknown compression kind");
}

}  // namespace kiln::exporter
