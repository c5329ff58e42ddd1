#include "solver/explain.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace kiln::solver {

namespace {

using Map = std::map<std::string, std::string>;

Map as_map(const nlohmann::json& summary, const char* part) {
    Map m;
    if (summary.is_object() && summary.contains(part) && summary[part].is_object())
        for (const auto& [k, v] : summary[part].items())
            if (v.is_string())
                m[k] = v.get<std::string>();
    return m;
}

std::string field(const nlohmann::json& summary, const char* name) {
    if (summary.is_object() && summary.contains(name) && summary[name].is_string())
        return summary[name].get<std::string>();
    return "";
}

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

// "content", "mode 100644 -> 100755", "owner 1000:1000 -> 0:0", joined by ", ".
std::string what_changed(const std::string& before, const std::string& after) {
    auto b = words(before), a = words(after);
    b.resize(3), a.resize(3);
    std::vector<std::string> parts;
    if (b[0] != a[0])
        parts.push_back("mode " + b[0] + " -> " + a[0]);
    if (b[1] != a[1])
        parts.push_back("owner " + b[1] + " -> " + a[1]);
    if (b[2] != a[2])
        parts.push_back("content");
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : ", ") + p;
    return out.empty() ? "changed" : out;
}

// "a.txt (content), new.txt (added) and 3 more", or "" when nothing differs.
std::string file_changes(const Map& before, const Map& after) {
    std::vector<std::string> items;
    for (const auto& [path, now] : after) {
        auto it = before.find(path);
        if (it == before.end())
            items.push_back(path + " (added)");
        else if (it->second != now)
            items.push_back(path + " (" + what_changed(it->second, now) + ")");
    }
    for (const auto& [path, _] : before)
        if (!after.count(path))
            items.push_back(path + " (removed)");
    constexpr size_t kShown = 5;
    std::string out;
    for (size_t i = 0; i < items.size() && i < kShown; ++i)
        out += (i ? ", " : "") + items[i];
    if (items.size() > kShown)
        out += " and " + std::to_string(items.size() - kShown) + " more";
    return out;
}

std::string quoted(const Map& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? "(unset)" : "\"" + it->second + "\"";
}

std::string env_changes(const Map& before, const Map& after) {
    std::string out;
    auto add = [&](const std::string& k) {
        out += (out.empty() ? "" : ", ") + k + " " + quoted(before, k) + " -> " + quoted(after, k);
    };
    for (const auto& [k, v] : after)
        if (!before.count(k) || before.at(k) != v)
            add(k);
    for (const auto& [k, _] : before)
        if (!after.count(k))
            add(k);
    return out;
}

// The step's own inputs against a record's: files, then args and env.
std::string input_changes(const nlohmann::json& now, const nlohmann::json& then) {
    std::string out;
    if (auto f = file_changes(as_map(then, "files"), as_map(now, "files")); !f.empty())
        out = "context files changed: " + f;
    if (auto e = env_changes(as_map(then, "env"), as_map(now, "env")); !e.empty())
        out += (out.empty() ? "" : "; ") + std::string("build arg or env changed: ") + e;
    const Map stages_then = as_map(then, "stages"), stages_now = as_map(now, "stages");
    std::string stages;
    for (const auto& [name, key] : stages_now)
        if (auto it = stages_then.find(name); it == stages_then.end() || it->second != key)
            stages += (stages.empty() ? "" : ", ") + name;
    if (!stages.empty())
        out += (out.empty() ? "" : "; ") + std::string("the stage it reads changed: ") + stages;
    return out;
}

}  // namespace

bool same_instruction(const nlohmann::json& a, const nlohmann::json& b) {
    return field(a, "instruction") == field(b, "instruction") &&
           field(a, "stage") == field(b, "stage");
}

std::string explain_miss(const MissFacts& step, const std::vector<CacheRecord>& candidates) {
    if (candidates.empty())
        return "no cache record for this instruction";
    // Nearest: a record made on the same file system (only the step's own
    // inputs differ), else the newest one.
    const CacheRecord* same_parent = nullptr;
    const CacheRecord* newest = &candidates.front();
    for (const auto& c : candidates) {
        if (!same_parent && c.parent == step.parent)  // "" == "": COPY --link
            same_parent = &c;
        if (c.created > newest->created)
            newest = &c;
    }
    if (same_parent) {
        auto why = input_changes(step.summary, same_parent->summary);
        return why.empty() ? "its inputs changed (no recorded difference: a source stage or "
                             "image it reads changed)"
                           : why;
    }
    if (step.parent_missed)
        return "the step before it did not hit the cache";
    const std::string base_then = field(newest->summary, "base");
    const std::string base_now = field(step.summary, "base");
    if (base_then != base_now)
        return "the base image changed: " + (base_then.empty() ? "(none)" : base_then) + " -> " +
               (base_now.empty() ? "(none)" : base_now);
    auto why = input_changes(step.summary, newest->summary);
    return why.empty() ? "the file system it runs on changed" : why;
}

}  // namespace kiln::solver
