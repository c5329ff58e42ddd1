#include "solver/key_claims.h"

namespace kiln::solver {

KeyClaims::Claim::~Claim() {
    if (!owner_)
        return;
    {
        std::lock_guard lock(owner_->mu_);
        owner_->held_.erase(key_);
    }
    owner_->released_.notify_all();
}

KeyClaims::Claim KeyClaims::claim(const content::Digest& key) {
    std::string k = key.str();
    std::unique_lock lock(mu_);
    bool waited = false;
    while (held_.count(k)) {
        waited = true;
        released_.wait(lock);
    }
    held_.insert(k);
    return Claim(*this, std::move(k), waited);
}

}  // namespace kiln::solver
