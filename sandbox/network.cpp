#include "sandbox/network.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/process.h"
#include "sandbox/detail.h"
#include "sandbox/sandbox.h"

namespace kiln::sandbox {

namespace {

std::string err_text(int err) {
    return std::strerror(err);
}

// The child of make_netns(): 0, or 1 when unshare failed, 2 when the bind mount did.
int netns_child(void* file) {
    if (::unshare(CLONE_NEWNET) != 0) {
        return 1;
    }
    if (::mount("/proc/self/ns/net", static_cast<const char*>(file), nullptr, MS_BIND, nullptr) !=
        0) {
        return 2;
    }
    return 0;
}

// Makes a new network namespace and bind-mounts it on `file` (which must exist). Done
// in a child process, so the calling process (and its threads) stay in their own
// namespace; only async-signal-safe calls happen in the child.
void make_netns(const std::filesystem::path& file) {
    Process child;
    try {
        child = Process::run_in_child(&netns_child, const_cast<char*>(file.c_str()));
    } catch (const Error& e) {
        throw SandboxError(std::string("network: ") + e.what());
    }
    child.wait();
    if (int code = child.exit_code(); code != 0) {
        throw SandboxError(std::string("network: cannot make a network namespace (") +
                           (code == 2 ? "bind mount" : "unshare") +
                           " failed; kiln needs to run as root)");
    }
}

}  // namespace

struct PrivateNetwork::Impl {
    detail::Fd exit_write;  // closing it stops slirp4netns
    Process slirp;
    bool mounted = false;
};

PrivateNetwork::PrivateNetwork(const std::filesystem::path& work_dir)
    : netns_(work_dir / "netns"), impl_(std::make_unique<Impl>()) {
    std::filesystem::create_directories(work_dir);
    {
        detail::Fd f(::open(netns_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!f) {
            throw SandboxError("network: cannot create " + netns_.string() + ": " +
                               err_text(errno));
        }
    }
    try {
        make_netns(netns_);
        impl_->mounted = true;

        int ready[2], exit_fds[2];
        if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(exit_fds, O_CLOEXEC) != 0) {
            throw SandboxError("network: pipe: " + err_text(errno));
        }
        detail::Fd ready_read(ready[0]), ready_write(ready[1]);
        detail::Fd exit_read(exit_fds[0]);
        impl_->exit_write = detail::Fd(exit_fds[1]);
        detail::Fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
        ProcessOptions slirp;
        slirp.argv = {"slirp4netns",
                      "--configure",
                      "--mtu=65520",
                      "--disable-host-loopback",
                      "--netns-type=path",
                      "--ready-fd=3",
                      "--exit-fd=4",
                      netns_.string(),
                      "tap0"};
        slirp.in = slirp.out = slirp.err = Stdio::from_fd(null.get());
        slirp.extra_fds = {ready_write.get(), exit_read.get()};  // fd 3: ready, fd 4: exit
        try {
            impl_->slirp = Process::spawn(slirp);
        } catch (const SpawnError&) {
            throw SandboxError(
                "network: slirp4netns is missing: install Debian's slirp4netns (or build "
                "with --network none)");
        }
        ready_write.reset();
        exit_read.reset();
        struct pollfd p = {ready_read.get(), POLLIN, 0};
        int n = ::poll(&p, 1, 10'000);
        char c = 0;
        if (n <= 0 || ::read(ready_read.get(), &c, 1) != 1 || c != '1') {
            throw SandboxError(
                "network: slirp4netns did not bring the build's network up (is Debian's "
                "slirp4netns installed? `apt-get install slirp4netns`; or build with "
                "--network none)");
        }
    } catch (...) {
        release();
        throw;
    }
}

PrivateNetwork::~PrivateNetwork() {
    release();
}

void PrivateNetwork::stop() noexcept {
    if (impl_)
        impl_->exit_write.reset();
}

void PrivateNetwork::release() noexcept {
    if (!impl_) {
        return;
    }
    impl_->exit_write.reset();
    if (!impl_->slirp.wait_for(std::chrono::seconds(5))) {
        impl_->slirp.kill(SIGKILL);
    }
    impl_->slirp.wait();
    if (impl_->mounted) {
        ::umount2(netns_.c_str(), MNT_DETACH);
    }
    ::unlink(netns_.c_str());
    impl_.reset();
}

}  // namespace kiln::sandbox
