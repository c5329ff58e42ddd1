#include "frontend/env_snapshot.h"

#include <string_view>
#include <unordered_map>

namespace kiln::frontend {

struct EnvSnapshot::Node {
    std::string name;
    std::string value;
    bool erase = false;
    std::shared_ptr<const Node> parent;
};

EnvSnapshot::EnvSnapshot(const Pairs& pairs) {
    for (const auto& [k, v] : pairs) {
        *this = with_set(k, v);
    }
}

EnvSnapshot& EnvSnapshot::operator=(const EnvSnapshot& other) {
    if (this != &other) {
        EnvSnapshot copy(other);
        *this = std::move(copy);
    }
    return *this;
}

EnvSnapshot& EnvSnapshot::operator=(EnvSnapshot&& other) noexcept {
    if (this != &other) {
        release();
        head_ = std::move(other.head_);
    }
    return *this;
}

EnvSnapshot::~EnvSnapshot() {
    release();
}

void EnvSnapshot::release() noexcept {
    std::shared_ptr<const Node> p = std::move(head_);
    // Only the last owner of a node frees it; freeing it then drops our hold on its parent
    // here, in the loop, instead of inside the node's destructor.
    while (p && p.use_count() == 1) {
        std::shared_ptr<const Node> parent = p->parent;
        p.reset();
        p = std::move(parent);
    }
}

EnvSnapshot EnvSnapshot::with_set(std::string name, std::string value) const {
    return EnvSnapshot(
        std::make_shared<const Node>(Node{std::move(name), std::move(value), false, head_}));
}

EnvSnapshot EnvSnapshot::with_erased(std::string name) const {
    return EnvSnapshot(std::make_shared<const Node>(Node{std::move(name), {}, true, head_}));
}

EnvSnapshot::Pairs EnvSnapshot::entries() const {
    std::vector<const Node*> chain;
    for (const Node* n = head_.get(); n != nullptr; n = n->parent.get()) {
        chain.push_back(n);
    }
    // Replayed oldest first, as Environment applies them; an erased entry is left as a
    // hole (nullptr) and dropped at the end.
    std::vector<const Node*> slots;
    std::unordered_map<std::string_view, size_t> where;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const Node* n = *it;
        const auto found = where.find(n->name);
        if (n->erase) {
            if (found != where.end()) {
                slots[found->second] = nullptr;
                where.erase(found);
            }
        } else if (found != where.end()) {
            slots[found->second] = n;
        } else {
            where.emplace(n->name, slots.size());
            slots.push_back(n);
        }
    }
    Pairs out;
    out.reserve(where.size());
    for (const Node* n : slots) {
        if (n != nullptr) {
            out.emplace_back(n->name, n->value);
        }
    }
    return out;
}

}  // namespace kiln::frontend
