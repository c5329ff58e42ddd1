// An environment frozen at one point of a stage, taken in O(1) time and memory.
//
// Every RUN step keeps the environment it runs with. Copying the whole list for each one
// made a Dockerfile of n ENV and n RUN lines cost n * n entries (gigabytes for a few
// thousand lines). A snapshot is instead the newest node of a persistent list of
// assignments: each set or erase is one node pointing at the one before, shared by every
// snapshot taken after it, never changed once made. Safe to read from several threads.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln::frontend {

class EnvSnapshot {
  public:
    using Pairs = std::vector<std::pair<std::string, std::string>>;

    EnvSnapshot() = default;
    // The assignments of pairs in order (a repeated name keeps its first place).
    EnvSnapshot(const Pairs& pairs);  // NOLINT(google-explicit-constructor): a Pairs is one
    EnvSnapshot(const EnvSnapshot&) = default;
    EnvSnapshot(EnvSnapshot&&) noexcept = default;
    // Assigning and destroying release a long list node by node (a recursive release of
    // 10,000 nodes could exhaust a worker thread's stack).
    EnvSnapshot& operator=(const EnvSnapshot& other);
    EnvSnapshot& operator=(EnvSnapshot&&) noexcept;
    ~EnvSnapshot();

    // This environment with name set to value (replaced in place when present, appended
    // otherwise), or with name removed. This snapshot does not change.
    EnvSnapshot with_set(std::string name, std::string value) const;
    EnvSnapshot with_erased(std::string name) const;

    // The variables in order of first definition (after the last erase of each), each with
    // its last value. O(number of assignments).
    Pairs entries() const;

    friend bool operator==(const EnvSnapshot& a, const EnvSnapshot& b) {
        return a.head_ == b.head_ || a.entries() == b.entries();
    }

  private:
    struct Node;
    explicit EnvSnapshot(std::shared_ptr<const Node> head) : head_(std::move(head)) {}
    void release() noexcept;

    std::shared_ptr<const Node> head_;
};

}  // namespace kiln::frontend
