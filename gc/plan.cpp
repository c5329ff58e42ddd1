#include "gc/plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace kiln::gc {

using content::Digest;

std::int64_t total_bytes(const Inventory& inv) {
    std::int64_t t = inv.tmp_bytes + inv.other_bytes;
    for (const auto& [d, b] : inv.blobs)
        t += b.bytes;
    for (const auto& u : inv.units)
        t += u.bytes;
    return t;
}

namespace {

// Reference counts over blobs, released as units go. A layer (diffID) holds
// its compressed twins while something refers to it or while its own blob is
// kept; once neither, the twin records go, and the twin blobs with them
// unless a named image names them.
class Refs {
  public:
    Refs(const Inventory& inv, Plan& plan) : inv_(inv), plan_(plan) {
        for (const Digest& d : inv.image_blobs)
            direct_[d] += kPinned;
        for (const auto& u : inv.units)
            for (const Digest& d : u.refs)
                ++direct_[d];
        for (const auto& [diff_id, twins] : inv.twins)
            if (count(direct_, diff_id) > 0 || inv.blobs.count(diff_id)) {
                holding_.insert(diff_id);
                for (const Twin& t : twins)
                    ++twin_refs_[t.blob];
            }
    }

    bool alive(const Digest& d) const { return count(direct_, d) + count(twin_refs_, d) > 0; }

    // A blob nothing refers to.
    void drop_orphan(const Digest& d) {
        if (!alive(d))
            free_blob(d);
    }
    // The twins of a layer that is neither referred to nor here.
    void drop_orphan_twins(const Digest& diff_id) {
        if (holding_.count(diff_id) || !dropped_.insert(diff_id).second)
            return;
        for (const Twin& t : twins_of(diff_id)) {
            plan_.records.push_back(t.record);
            if (!alive(t.blob))
                free_blob(t.blob);
        }
    }

    // A kept unit that referred to `d` goes.
    void release(const Digest& d) {
        if (--direct_[d] > 0)
            return;
        if (inv_.blobs.count(d))
            free_blob(d);  // lets its twins go too
        else
            let_twins_go(d);
    }

  private:
    static constexpr std::int64_t kPinned = 1 << 30;
    static std::int64_t count(const std::map<Digest, std::int64_t>& m, const Digest& d) {
        auto it = m.find(d);
        return it == m.end() ? 0 : it->second;
    }
    const std::vector<Twin>& twins_of(const Digest& diff_id) const {
        static const std::vector<Twin> none;
        auto it = inv_.twins.find(diff_id);
        return it == inv_.twins.end() ? none : it->second;
    }
    void let_twins_go(const Digest& diff_id) {
        if (!holding_.erase(diff_id))
            return;
        dropped_.insert(diff_id);
        for (const Twin& t : twins_of(diff_id)) {
            plan_.records.push_back(t.record);
            if (--twin_refs_[t.blob] <= 0 && !alive(t.blob))
                free_blob(t.blob);
        }
    }
    void free_blob(const Digest& d) {
        auto it = inv_.blobs.find(d);
        if (it == inv_.blobs.end() || alive(d) || !freed_.insert(d).second)
            return;
        plan_.blobs.push_back(d);
        plan_.freed += it->second.bytes;
        if (auto s = inv_.sources.find(d); s != inv_.sources.end())
            plan_.records.push_back(s->second);
        let_twins_go(d);
    }

    const Inventory& inv_;
    Plan& plan_;
    std::map<Digest, std::int64_t> direct_, twin_refs_;
    std::set<Digest> holding_, freed_, dropped_;
};

bool old_enough(std::int64_t last_used, const Policy& p) {
    if (p.protect_after && last_used >= *p.protect_after)
        return false;
    return !p.until || last_used < p.now - *p.until;
}

bool candidate(const Unit& u, const Policy& p) {
    if (u.kind == Kind::cache_mount && !p.cache_mounts)
        return false;
    if (u.kind == Kind::snapshot && u.of_image && !p.all)
        return false;
    return old_enough(u.last_used, p);
}

}  // namespace

Plan plan_collection(const Inventory& inv, const Policy& policy) {
    Plan plan;
    plan.total_before = total_bytes(inv);
    auto above = [&] {
        return !policy.keep_bytes || plan.total_before - plan.freed > *policy.keep_bytes;
    };
    Refs refs(inv, plan);

    // Garbage first: blobs and twin records nothing refers to.
    std::vector<std::pair<std::int64_t, Digest>> orphans;
    for (const auto& [d, b] : inv.blobs)
        if (!refs.alive(d) && old_enough(b.mtime, policy))
            orphans.emplace_back(b.mtime, d);
    std::sort(orphans.begin(), orphans.end());
    for (const auto& [mtime, d] : orphans) {
        if (!above())
            break;
        refs.drop_orphan(d);
    }
    if (above())
        for (const auto& [diff_id, twins] : inv.twins)
            refs.drop_orphan_twins(diff_id);

    // Then units, least recently used first.
    std::vector<const Unit*> order;
    for (const auto& u : inv.units)
        if (candidate(u, policy))
            order.push_back(&u);
    std::stable_sort(order.begin(), order.end(),
                     [](const Unit* a, const Unit* b) { return a->last_used < b->last_used; });
    for (const Unit* u : order) {
        if (!above())
            break;
        const std::int64_t before = plan.freed;
        plan.freed += u->bytes;
        for (const Digest& d : u->refs)
            refs.release(d);
        plan.units.push_back({u->kind, u->path, plan.freed - before, u->bytes, u->last_used,
                              u->description, u->snapshot_kind, u->snapshot_key});
    }
    return plan;
}

}  // namespace kiln::gc
