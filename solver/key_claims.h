// Steps with the same cache key in concurrent solves of one process (the
// platforms of a multi-platform build) run once: the first to claim a key
// runs its step; a later claim of that key waits until the first is released,
// and its step then finds the first one's record in the cache instead of
// running (BuildKit merges such vertices in its solver the same way).
//
// Invariant: a claim is released when its holder is destroyed, on every path
// out (a failed step releases too, and the waiter then runs the step itself).
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "content/digest.h"

namespace kiln::solver {

class KeyClaims {
  public:
    class Claim {
      public:
        Claim(KeyClaims& owner, std::string key, bool waited)
            : owner_(&owner), key_(std::move(key)), waited_(waited) {}
        ~Claim();
        Claim(Claim&& o) noexcept
            : owner_(std::exchange(o.owner_, nullptr)),
              key_(std::move(o.key_)),
              waited_(o.waited_) {}
        Claim(const Claim&) = delete;
        Claim& operator=(const Claim&) = delete;
        Claim& operator=(Claim&&) = delete;
        // Whether another holder had the key first (its record may be there now).
        bool waited() const { return waited_; }

      private:
        KeyClaims* owner_;
        std::string key_;
        bool waited_;
    };

    // Blocks while another claim holds `key`.
    Claim claim(const content::Digest& key);

  private:
    std::mutex mu_;
    std::condition_variable released_;
    std::set<std::string> held_;
};

}  // namespace kiln::solver
