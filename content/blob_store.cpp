#include "content/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <stdio.h>

#include <cerrno>

#include "base/error.h"
#include "content/lazy_layers.h"

namespace kiln::content {

BlobStore::BlobStore(std::filesystem::path layout, std::filesystem::path temp_dir)
    : layout_(std::move(layout)), temp_dir_(std::move(temp_dir)) {
    std::filesystem::create_directories(layout_ / "blobs" / "sha256");
    std::filesystem::create_directories(temp_dir_);
}

bool BlobStore::has(const Digest& d) const {
    struct stat st;
    return ::stat(path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::filesystem::path BlobStore::path(const Digest& d) const {
    return layout_ / "blobs" / "sha256" / std::string(d.hex());
}

BlobStore::Writer BlobStore::writer() const {
    return Writer(*this, AtomicFile({}, temp_dir_, 0644));
}

void BlobStore::Writer::write(const void* data, std::size_t size) {
    hash_.update(data, size);
    file_.write(data, size);
    size_ += static_cast<std::int64_t>(size);
}

BlobInfo BlobStore::Writer::commit(const std::optional<Digest>& expected) {
    Digest got = hash_.finish();
    if (expected && *expected != got) {
        throw Error("digest mismatch: expected " + expected->str() + ", got " + got.str());
    }
    // Replace a blob already present: the bytes are the same by digest, and
    // if the old file was damaged on disk this repairs it.
    file_.commit_as(store_->path(got));
    return {got, size_};
}

BlobInfo BlobStore::put(std::string_view bytes) const {
    Digest d = Digest::of(bytes);
    auto w = writer();
    w.write(bytes);
    return w.commit(d);
}

std::string BlobStore::read_all(const Digest& d) const {
    auto r = reader(d);
    std::string out;
    out.reserve(static_cast<std::size_t>(r.size()));
    char buf[65536];
    while (std::size_t n = r.read(buf, sizeof buf))
        out.append(buf, n);
    return out;
}

bool BlobStore::ensure(const Digest& d) const {
    return has(d) || (lazy_ && lazy_->ensure(*this, d));
}

BlobStore::Reader BlobStore::reader(const Digest& d) const {
    if (lazy_ && !has(d))
        lazy_->ensure(*this, d);
    auto p = path(d);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            throw Error("blob " + d.str() + " is missing from " + layout_.string());
        throw errno_error("cannot open blob " + p.string());
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0)
        throw errno_error("cannot stat blob " + p.string());
    return Reader(d, p, std::move(fd), st.st_size, temp_dir_);
}

std::size_t BlobStore::Reader::read(void* buf, std::size_t size) {
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw errno_error("cannot read blob " + path_.string());
        }
        if (n > 0) {
            hash_.update(buf, static_cast<std::size_t>(n));
            return static_cast<std::size_t>(n);
        }
        if (!verified_) {
            verified_ = true;
            Digest got = hash_.finish();
            if (got != digest_) {
                // Move it aside so nothing trusts it again; the next write of
                // this content puts a good copy back.
                auto aside = quarantine_dir_ / ("corrupt-" + std::string(digest_.hex()));
                bool moved = ::rename(path_.c_str(), aside.c_str()) == 0;
                throw Error("corrupt blob " + path_.string() + ": content has digest " + got.str() +
                            ", expected " + digest_.str() +
                            (moved ? " (moved to " + aside.string() + ")" : ""));
            }
        }
        return 0;
    }
}

}  // namespace kiln::content
