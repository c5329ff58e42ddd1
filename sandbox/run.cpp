// run(): one container through the runtime's CLI (`runc run`), its output streamed line by
// line, cancel by `runc kill`, and cleanup that holds on every path out (see sandbox.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "base/root_dir.h"
#include "sandbox/detail.h"
#include "sandbox/network.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

namespace {

using detail::Fd;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::size_t kMaxLine = 64 * 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(100);

std::string errno_text(int err) {
    return std::strerror(err);
}

std::pair<Fd, Fd> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw SandboxError("sandbox: pipe: " + errno_text(errno));
    }
    return {Fd(fds[0]), Fd(fds[1])};
}

Fd open_dev_null() {
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        throw SandboxError("sandbox: /dev/null: " + errno_text(errno));
    }
    return Fd(fd);
}

// Runs a short runtime command (kill, delete), output discarded. Gives up (and kills it)
// after 30 s so that cleanup can never hang the build.
int run_quiet(const std::vector<std::string>& argv) {
    Fd null = open_dev_null();
    Process c = detail::spawn(argv, null.get(), null.get(), null.get());
    if (!c.wait_for(std::chrono::seconds(30))) {
        c.kill(SIGKILL);
        c.wait();
        return -1;
    }
    return c.exit_code();
}

// Splits a byte stream into lines for on_output.
class LineSplitter {
  public:
    explicit LineSplitter(const std::function<void(std::string_view)>& sink) : sink_(sink) {}
    void feed(std::string_view data) {
        while (!data.empty()) {
            auto nl = data.find('\n');
            if (nl == std::string_view::npos) {
                buf_.append(data);
                while (buf_.size() >= kMaxLine) {
                    emit(std::string_view(buf_).substr(0, kMaxLine));
                    buf_.erase(0, kMaxLine);
                }
                return;
            }
            if (buf_.empty()) {
                emit(data.substr(0, nl));
            } else {
                buf_.append(data.substr(0, nl));
                emit(buf_);
                buf_.clear();
            }
            data.remove_prefix(nl + 1);
        }
    }
    void flush() {
        if (!buf_.empty()) {
            emit(buf_);
            buf_.clear();
        }
    }

  private:
    void emit(std::string_view line) {
        if (sink_) {
            sink_(line);
        }
    }
    const std::function<void(std::string_view)>& sink_;
    std::string buf_;
};

// Mount points that the runtime will have to create in rootfs, noted before the run and
// removed after it when they are still empty stubs (so a RUN on a scratch image does not
// leave /proc, /dev, /etc/hosts... in its layer). Parent directories get their times back.
class MountStubs {
  public:
    // Paths are in-root ("/proc"): resolved again, inside the root, when they are
    // removed, since the step may have turned a parent into a link meanwhile.
    // A destination whose last component is a link (a base image with /dev -> /host/x)
    // is replaced, for the run only, by an empty directory or file (`files` names the
    // file binds): the runtime makes some entries under such paths with path-based
    // calls (runc's /dev/fd, /dev/stdin, /dev/ptmx links), which must land in the root.
    MountStubs(const fs::path& rootfs, const std::vector<std::string>& destinations,
               const std::set<std::string>& files)
        : root_(rootfs) {
        try {
            for (const auto& dest : destinations) {
                replace_link(dest, files.count(dest) > 0);
            }
            note(destinations);
        } catch (const SandboxError&) {
            restore();
            throw;
        } catch (const kiln::Error& e) {
            restore();
            throw SandboxError(std::string("sandbox: mount target: ") + e.what());
        } catch (...) {
            restore();  // no destructor runs for a constructor that throws
            throw;
        }
    }
    MountStubs(const MountStubs&) = delete;
    MountStubs& operator=(const MountStubs&) = delete;
    ~MountStubs() {
        remove_stubs();
        restore();
    }

  private:
    struct Replaced {
        std::string path, target;
        bool file = false;
    };

    void replace_link(const std::string& dest, bool file) {
        kiln::InRoot at = root_.resolve(dest, kiln::Follow::not_last);
        if (!at.exists || !S_ISLNK(at.st.st_mode) || at.name.empty()) {
            return;
        }
        std::string target(static_cast<size_t>(at.st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(at.dir.get(), at.name.c_str(), target.data(), target.size());
        if (n < 0) {
            throw SandboxError("sandbox: cannot read link " + at.path + ": " + errno_text(errno));
        }
        target.resize(static_cast<size_t>(n));
        if (::unlinkat(at.dir.get(), at.name.c_str(), 0) != 0) {
            throw SandboxError("sandbox: cannot replace link " + at.path + ": " +
                               errno_text(errno));
        }
        replaced_.push_back({at.path, target, file});
        int rc = file ? ::mknodat(at.dir.get(), at.name.c_str(), S_IFREG | 0644, 0)
                      : ::mkdirat(at.dir.get(), at.name.c_str(), 0755);
        if (rc != 0) {
            throw SandboxError("sandbox: cannot replace link " + at.path + ": " +
                               errno_text(errno));
        }
    }

    // Puts the replaced links back (newest first), where what replaced them is still
    // an empty directory or file.
    void restore() noexcept {
        try {
            for (auto it = replaced_.rbegin(); it != replaced_.rend(); ++it) {
                kiln::InRoot at = root_.resolve(it->path, kiln::Follow::not_last);
                if (!at.dir || at.name.empty()) {
                    continue;
                }
                if (at.exists) {
                    if (::unlinkat(at.dir.get(), at.name.c_str(),
                                   S_ISDIR(at.st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
                        continue;  // not empty: the step's, keep it
                    }
                }
                ::symlinkat(it->target.c_str(), at.dir.get(), at.name.c_str());
            }
        } catch (const kiln::Error&) {
        }
        replaced_.clear();
    }

    void note(const std::vector<std::string>& destinations) {
        for (const auto& dest : destinations) {
            kiln::InRoot at = root_.resolve(dest);
            std::string p = at.path;
            std::vector<std::string> missing;
            while (p != "/" && !root_.resolve(p, kiln::Follow::not_last).exists) {
                missing.push_back(p);
                p = p.substr(0, std::max<size_t>(1, p.rfind('/')));
            }
            if (!missing.empty()) {
                kiln::InRoot parent = root_.resolve(p, kiln::Follow::not_last);
                if (parent.exists) {
                    parents_.emplace(p, parent.st);
                }
            }
            for (auto& m : missing) {
                stubs_.insert(m);
            }
        }
    }
    void remove_stubs() noexcept {
        // Deepest first, so that a stub directory is empty when its own turn comes.
        std::vector<std::string> order(stubs_.begin(), stubs_.end());
        std::sort(order.begin(), order.end(),
                  [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
        try {
            for (const auto& s : order) {
                kiln::InRoot at = root_.resolve(s, kiln::Follow::not_last);
                if (!at.exists || at.name.empty()) {
                    continue;
                }
                if (S_ISDIR(at.st.st_mode)) {
                    // Fails, as it should, when not empty.
                    ::unlinkat(at.dir.get(), at.name.c_str(), AT_REMOVEDIR);
                } else if (S_ISREG(at.st.st_mode) && at.st.st_size == 0) {
                    ::unlinkat(at.dir.get(), at.name.c_str(), 0);
                }
            }
            for (const auto& [path, st] : parents_) {
                kiln::InRoot at = root_.resolve(path, kiln::Follow::not_last);
                if (at.exists && !at.name.empty()) {
                    struct timespec times[2] = {st.st_atim, st.st_mtim};
                    ::utimensat(at.dir.get(), at.name.c_str(), times, AT_SYMLINK_NOFOLLOW);
                }
            }
        } catch (const kiln::Error&) {
            // A step that made a link loop of a parent keeps its stubs; nothing else.
        }
    }

    kiln::RootDir root_;
    std::vector<Replaced> replaced_;
    std::set<std::string> stubs_;
    std::map<std::string, struct stat> parents_;
};

std::string unique_container_id() {
    static std::atomic<uint64_t> counter{0};
    static const uint64_t salt = std::random_device{}();
    std::ostringstream id;
    id << "kiln-" << ::getpid() << "-" << counter.fetch_add(1) << "-" << std::hex
       << (salt & 0xffffff);
    return id.str();
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        throw SandboxError("sandbox: cannot write " + p.string());
    }
}

// resolv.conf: the host's when it names a nameserver, else public resolvers (as Docker).
// The host's resolv.conf (Docker's way). In a private network the nameservers become
// slirp4netns's forwarder, which reaches whatever the host uses, loopback resolvers too.
std::string resolv_conf(bool private_network) {
    std::ifstream in("/etc/resolv.conf");
    std::string kept, line;
    bool any = false;
    while (in && std::getline(in, line)) {
        bool ns = line.rfind("nameserver", 0) == 0;
        any |= ns;
        if (!(ns && private_network)) {
            kept += line + "\n";
        }
    }
    if (private_network) {
        return kept + "nameserver " + PrivateNetwork::kNameserver + "\n";
    }
    return any ? kept : "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
}

void write_etc_files(const fs::path& dir, const RunOptions& opts) {
    const std::string& hostname = opts.hostname;
    write_text(dir / "resolv.conf", resolv_conf(opts.network == RunOptions::Network::private_ns));
    std::string hosts =
        "127.0.0.1\tlocalhost " + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    for (const auto& [name, ip] : opts.settings.extra_hosts)  // --add-host, as Docker writes them
        hosts += ip + "\t" + name + "\n";
    write_text(dir / "hosts", hosts);
    write_text(dir / "hostname", hostname + "\n");
}

// The runtime's own error messages (its --log file in JSON, one object a line), so that a
// runtime failure can be told from the process's own non-zero exit.
std::vector<std::string> runtime_errors(const fs::path& log) {
    std::vector<std::string> out;
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            continue;
        }
        std::string level = j.value("level", "");
        if (level == "error" || level == "fatal" || level == "panic") {
            out.push_back(j.value("msg", line));
        }
    }
    return out;
}

// One `<runtime> run` of one container. Whatever way the scope is left, the container is
// deleted (which kills every process in it) and the runtime process is reaped.
class Container {
  public:
    Container(std::string runtime, fs::path state_dir, std::string id)
        : runtime_(std::move(runtime)), state_(std::move(state_dir)), id_(std::move(id)) {}
    Container(const Container&) = delete;
    Container& operator=(const Container&) = delete;
    ~Container() {
        try {
            if (started_ && !proc_.try_wait()) {
                // Ask the runtime to kill the container; `run` then returns by itself.
                // The container may not exist yet (runtime still setting up): retry.
                for (int i = 0; i < 50 && !proc_.try_wait(); ++i) {
                    remove();
                    proc_.wait_for(std::chrono::milliseconds(200));
                }
                proc_.kill(SIGKILL);
                proc_.wait();
            }
            if (fs::exists(state_ / id_)) {
                remove();
            }
        } catch (...) {
            // Nothing more can be done in a destructor; Process's destructor still reaps.
        }
    }

    void start(const fs::path& bundle, const fs::path& log, int out_fd) {
        Fd null = open_dev_null();
        proc_ = detail::spawn({runtime_, "--root", state_.string(), "--log", log.string(),
                               "--log-format", "json", "run", "--bundle", bundle.string(), id_},
                              null.get(), out_fd, out_fd);
        started_ = true;
    }

    void kill() { run_quiet({runtime_, "--root", state_.string(), "kill", id_, "KILL"}); }
    void remove() { run_quiet({runtime_, "--root", state_.string(), "delete", "-f", id_}); }
    Process& process() { return proc_; }

  private:
    std::string runtime_;
    fs::path state_;
    std::string id_;
    Process proc_;
    bool started_ = false;
};

}  // namespace

RunResult run(const RunOptions& opts) {
    if (opts.work_dir.empty()) {
        throw SandboxError("sandbox: no work_dir given");
    }
    if (opts.runtime.empty()) {
        throw SandboxError("sandbox: no runtime given");
    }
    std::error_code ec;
    if (!opts.rootfs.is_absolute() || !fs::is_directory(opts.rootfs, ec)) {
        throw SandboxError("sandbox: rootfs is not an absolute path to a directory: " +
                           opts.rootfs.string());
    }
    const fs::path work = fs::absolute(opts.work_dir).lexically_normal();
    const fs::path root = opts.rootfs.lexically_normal();
    if (auto rel = work.lexically_relative(root); !rel.empty() && *rel.begin() != "..") {
        // Its files would be visible to (and writable by) the step, and end up in the layer.
        throw SandboxError("sandbox: work_dir must not be inside the rootfs: " + work.string());
    }
    const fs::path bundle = work / "bundle", etc = work / "etc", state = work / "runtime-state";
    for (const auto& d : {bundle, etc, state}) {
        fs::create_directories(d, ec);
        if (ec) {
            throw SandboxError("sandbox: cannot create " + d.string() + ": " + ec.message());
        }
    }
    write_etc_files(etc, opts);
    nlohmann::json spec = make_runtime_spec(opts, etc);  // validates the options too

    if (opts.cwd != "/") {
        detail::mkdir_in_root(opts.rootfs, opts.cwd);
    }
    std::vector<std::string> destinations;
    std::set<std::string> file_binds;
    for (const auto& m : spec["mounts"]) {
        std::string dest = m["destination"].get<std::string>();
        destinations.push_back(dest);
        struct stat st {};
        if (m["type"] == "bind" && ::stat(m["source"].get<std::string>().c_str(), &st) == 0 &&
            !S_ISDIR(st.st_mode)) {
            file_binds.insert(dest);
        }
    }
    MountStubs stubs(opts.rootfs, destinations, file_binds);

    write_text(bundle / "config.json", spec.dump(2));
    const fs::path log = work / "runtime.log";
    fs::remove(log, ec);

    // Declared before the pipe so that, when leaving by an exception, our read end is
    // closed first: a runtime blocked writing output to a full pipe then fails instead of
    // holding up the cleanup.
    Container container(opts.runtime, state, unique_container_id());
    auto [out_r, out_w] = make_pipe();
    container.start(bundle, log, out_w.get());
    out_w.reset();  // only the runtime (and the container) hold the write end now
    ::fcntl(out_r.get(), F_SETFL, ::fcntl(out_r.get(), F_GETFL) | O_NONBLOCK);

    LineSplitter lines(opts.on_output);
    RunResult result;
    bool eof = false, exited = false;
    Clock::time_point last_kill{}, drain_deadline{};
    char buf[16384];
    while (!eof) {
        if (!exited && opts.cancel && opts.cancel->load() &&
            Clock::now() - last_kill > std::chrono::milliseconds(250)) {
            result.cancelled = true;
            container.kill();  // may fail while the container is being set up: repeated
            last_kill = Clock::now();
        }
        struct pollfd pfd = {out_r.get(), POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(kPollInterval.count()));
        if (n < 0 && errno != EINTR) {
            throw SandboxError("sandbox: poll: " + errno_text(errno));
        }
        if (n > 0) {
            while (true) {
                ssize_t r = ::read(out_r.get(), buf, sizeof buf);
                if (r > 0) {
                    lines.feed(std::string_view(buf, static_cast<size_t>(r)));
                    continue;
                }
                if (r == 0) {
                    eof = true;
                } else if (errno == EINTR) {
                    continue;
                } else if (errno != EAGAIN) {
                    throw SandboxError("sandbox: read: " + errno_text(errno));
                }
                break;
            }
        }
        if (!exited && container.process().try_wait()) {
            exited = true;
            // The pid namespace is gone with its pid 1, so the pipe closes at once;
            // the deadline only guards against a runtime that leaks the write end.
            drain_deadline = Clock::now() + std::chrono::seconds(2);
        }
        if (exited && !eof && Clock::now() > drain_deadline) {
            break;
        }
    }
    if (!exited) {
        container.process().wait();
    }
    lines.flush();
    result.exit_code = container.process().exit_code();
    if (opts.cancel && opts.cancel->load()) {
        result.cancelled = true;
    }
    if (result.exit_code != 0 && !result.cancelled) {
        auto errors = runtime_errors(log);
        if (!errors.empty()) {
            throw SandboxError("runtime \"" + opts.runtime +
                               "\" failed to run the process: " + errors.back());
        }
    }
    return result;
}

}  // namespace kiln::sandbox
