// The Executor that runs processes through a runc-compatible OCI runtime (sandbox::run).
//
// Contract: behaves exactly as sandbox::run() with RunOptions::runtime set to the
// configured runtime. A request for Network::private_ns without a netns_path joins the
// build's private network (sandbox/network.h), made on the first such request (or
// ahead of it, by prepare_network) and shared by every later one; it is taken down when
// the executor is destroyed. Thread-safe.
#pragma once

#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "sandbox/executor.h"
#include "sandbox/network.h"

namespace kiln::sandbox {

class RuncExecutor : public Executor {
  public:
    // `runtime`: the runtime's CLI name or path ("runc", "crun"); `network_dir`: where the
    // private network's namespace file lives (must not be inside any rootfs).
    RuncExecutor(std::string runtime, std::filesystem::path network_dir);
    ~RuncExecutor() override;
    RuncExecutor(const RuncExecutor&) = delete;
    RuncExecutor& operator=(const RuncExecutor&) = delete;

    RunResult run(const ExecRequest& request) override;

    // Starts making the private network on its own thread, so that the first RUN that
    // joins it does not wait for slirp4netns to come up (BuildKit keeps a pool of
    // network namespaces for the same reason). An error is the first such RUN's error.
    // Does nothing when the network exists or is being made.
    void prepare_network();

    void no_more_runs() noexcept override;

  private:
    std::filesystem::path private_network();

    std::string runtime_;
    std::filesystem::path network_dir_;
    std::mutex network_mu_;
    std::unique_ptr<PrivateNetwork> network_;
    std::unique_ptr<PrivateNetwork> stopped_;  // no_more_runs's: going, reaped on destruction
    std::future<std::unique_ptr<PrivateNetwork>> pending_;  // prepare_network's
};

}  // namespace kiln::sandbox
