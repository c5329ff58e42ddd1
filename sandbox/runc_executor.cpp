#include "sandbox/runc_executor.h"

#include <utility>

namespace kiln::sandbox {

RuncExecutor::RuncExecutor(std::string runtime, std::filesystem::path network_dir)
    : runtime_(std::move(runtime)), network_dir_(std::move(network_dir)) {}

RuncExecutor::~RuncExecutor() = default;

std::filesystem::path RuncExecutor::private_network() {
    std::lock_guard lock(network_mu_);
    if (!network_)
        network_ = std::make_unique<PrivateNetwork>(network_dir_);
    return network_->netns_path();
}

RunResult RuncExecutor::run(const ExecRequest& request) {
    RunOptions opts = request;
    opts.runtime = runtime_;
    if (opts.network == RunOptions::Network::private_ns && opts.netns_path.empty())
        opts.netns_path = private_network();
    return sandbox::run(opts);
}

}  // namespace kiln::sandbox
