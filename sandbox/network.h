// A private network for RUN steps, with outbound access like Docker's bridge.
//
// Contract:
//  - PrivateNetwork makes a new network namespace (bind-mounted on a file in
//    work_dir, so it outlives the process that made it) and runs Debian's
//    slirp4netns on it: tap0 10.0.2.100/24, gateway 10.0.2.2, DNS forwarder
//    10.0.2.3, loopback up, MTU 65520. --disable-host-loopback: the build
//    host's 127.0.0.1 services are out of reach (a step can still reach other
//    hosts, as under Docker's bridge).
//  - Steps join it through RunOptions::netns_path; one network serves every
//    RUN of a build.
//  - The destructor stops slirp4netns (its exit fd closes), unmounts the
//    namespace and removes the file; nothing is left behind on any path out.
//    stop() only asks slirp4netns to exit (the kernel's teardown of its tap
//    takes ~20 ms), so that the destructor later has less to wait for; the
//    network is unusable from then on.
//  - A missing slirp4netns, or one that does not come up within 10 s, is a
//    SandboxError saying what to install.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace kiln::sandbox {

class PrivateNetwork {
  public:
    explicit PrivateNetwork(const std::filesystem::path& work_dir);
    ~PrivateNetwork();
    PrivateNetwork(const PrivateNetwork&) = delete;
    PrivateNetwork& operator=(const PrivateNetwork&) = delete;

    const std::filesystem::path& netns_path() const { return netns_; }
    void stop() noexcept;

    // slirp4netns's DNS forwarder, for the steps' /etc/resolv.conf.
    static constexpr const char* kNameserver = "10.0.2.3";

  private:
    void release() noexcept;
    struct Impl;
    std::filesystem::path netns_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::sandbox
