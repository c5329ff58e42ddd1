#include "content/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "content/owner.h"

namespace kiln {

// Starts writeback (sync_file_range, SYNC_FILE_RANGE_WRITE) of the ranges it
// is given, on its own thread, in order. A hint only: an error shows again,
// and is reported, at fsync.
class AtomicFile::Writeback {
  public:
    explicit Writeback(int fd) : fd_(fd), thread_([this] { run(); }) {}
    ~Writeback() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
    Writeback(const Writeback&) = delete;
    Writeback& operator=(const Writeback&) = delete;

    // Bytes below `end` are written: queue them.
    void upto(std::int64_t end) {
        {
            std::lock_guard lock(mu_);
            target_ = end;
        }
        cv_.notify_one();
    }

  private:
    void run() {
        std::unique_lock lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || target_ > done_; });
            if (stop_)
                return;  // commit's fsync writes the rest
            const std::int64_t from = done_, to = target_;
            lock.unlock();
            ::sync_file_range(fd_, from, to - from, SYNC_FILE_RANGE_WRITE);
            lock.lock();
            done_ = to;
        }
    }

    const int fd_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::int64_t target_ = 0, done_ = 0;
    bool stop_ = false;
    std::thread thread_;  // last: started once the state exists
};

AtomicFile::AtomicFile(std::filesystem::path final_path, const std::filesystem::path& temp_dir,
                       mode_t mode)
    : final_(std::move(final_path)) {
    std::string tmpl = (temp_dir / (content::temp_prefix(".tmp-") + "XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkostemp(buf.data(), O_CLOEXEC);
    if (fd < 0)
        throw errno_error("cannot create a temporary file in " + temp_dir.string());
    fd_ = UniqueFd(fd);
    temp_ = buf.data();
    if (::fchmod(fd, mode) != 0)
        throw errno_error("cannot chmod " + temp_.string());
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : final_(std::move(o.final_)),
      temp_(std::move(o.temp_)),
      fd_(std::move(o.fd_)),
      done_(o.done_),
      written_(o.written_),
      writeback_from_(o.writeback_from_),
      writeback_(std::move(o.writeback_)) {
    o.done_ = true;
}

AtomicFile::~AtomicFile() {
    writeback_.reset();
    if (!done_ && !temp_.empty())
        ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
    write_all(fd_.get(), data, size, temp_.c_str());
    written_ += static_cast<std::int64_t>(size);
    if (written_ - writeback_from_ >= kWritebackStep) {
        if (!writeback_)
            writeback_ = std::make_unique<Writeback>(fd_.get());
        writeback_->upto(written_);
        writeback_from_ = written_;
    }
}

void AtomicFile::commit(Durability durability) {
    commit_as(final_, durability);
}

void AtomicFile::commit_as(const std::filesystem::path& final_path, Durability durability) {
    writeback_.reset();
    const bool sync = durability == Durability::durable;
    if (sync && ::fsync(fd_.get()) != 0)
        throw errno_error("cannot fsync " + temp_.string());
    fd_.reset();
    if (::rename(temp_.c_str(), final_path.c_str()) != 0) {
        throw errno_error("cannot write " + final_path.string());
    }
    done_ = true;
    if (sync)
        fsync_dir(final_path.parent_path().empty() ? "." : final_path.parent_path());
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode,
                       Durability durability) {
    auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    AtomicFile f(path, dir, mode);
    f.write(content);
    f.commit(durability);
}

std::string read_file(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw errno_error("cannot read " + path.string());
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw errno_error("cannot read " + path.string());
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

void fsync_dir(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd)
        ::fsync(fd.get());
}

}  // namespace kiln
