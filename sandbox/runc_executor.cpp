#include "sandbox/runc_executor.h"

#include <utility>

namespace kiln::sandbox {

RuncExecutor::RuncExecutor(std::string runtime, std::filesystem::path network_dir)
    : runtime_(std::move(runtime)), network_dir_(std::move(network_dir)) {}

RuncExecutor::~RuncExecutor() {
    std::lock_guard lock(network_mu_);
    if (pending_.valid()) {
        try {
            pending_.get();  // a network made for no RUN is taken down here
        } catch (...) {
            // Its error was for a RUN that never came.
        }
    }
}

void RuncExecutor::prepare_network() {
    std::lock_guard lock(network_mu_);
    if (network_ || pending_.valid())
        return;
    pending_ = std::async(std::launch::async,
                          [dir = network_dir_] { return std::make_unique<PrivateNetwork>(dir); });
}

void RuncExecutor::no_more_runs() noexcept {
    std::lock_guard lock(network_mu_);
    if (pending_.valid()) {
        try {
            network_ = pending_.get();
        } catch (...) {
            // Made for no RUN: its error is nobody's.
        }
    }
    if (network_ && !stopped_) {
        network_->stop();
        stopped_ = std::move(network_);
    }
}

std::filesystem::path RuncExecutor::private_network() {
    std::lock_guard lock(network_mu_);
    if (pending_.valid())
        network_ = pending_.get();  // throws what making it threw; the next RUN tries again
    if (!network_) {
        stopped_.reset();  // its namespace file is where the new one goes
        network_ = std::make_unique<PrivateNetwork>(network_dir_);
    }
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
