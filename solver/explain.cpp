#include "solver/explain.h"

#include <algorithm>
#include <map>

#include "content/digest.h"

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

// "content", "mode 100644 -> 100755", or both; for a rolled-up directory,
// "something below changed". An entry is "MODE CONTENT".
std::string what_changed(const std::string& before, const std::string& after) {
    if (before.rfind("tree ", 0) == 0 || after.rfind("tree ", 0) == 0)
        return "something below changed";
    auto split = [](const std::string& v) {
        auto sp = v.find(' ');
        return sp == std::string::npos ? std::pair{v, std::string()}
                                       : std::pair{v.substr(0, sp), v.substr(sp + 1)};
    };
    auto [mode_b, content_b] = split(before);
    auto [mode_a, content_a] = split(after);
    std::string out;
    if (mode_b != mode_a)
        out = "mode " + mode_b + " -> " + mode_a;
    if (content_b != content_a)
        out += (out.empty() ? "" : ", ") + std::string("content");
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

// `files` with every path deeper than `depth` components rolled up into its
// directory at that depth.
Map rolled_up(const Map& files, std::size_t depth) {
    // directory -> the digest of its entries' lines, in order (hashed as they
    // come: the lines of a large context would weigh megabytes)
    std::map<std::string, content::Sha256> below;
    Map out;
    for (const auto& [path, value] : files) {
        std::size_t cut = 0, seen = 0;
        while (seen < depth && (cut = path.find('/', cut)) != std::string::npos) {
            ++seen;
            ++cut;
        }
        if (seen < depth || cut == std::string::npos)
            out[path] = value;
        else
            below[path.substr(0, cut)].update(path + "\t" + value + "\n");
    }
    for (auto& [dir, lines] : below)
        out[dir] = "tree " + lines.finish().str().substr(7, 12);
    return out;
}

std::size_t files_depth(const nlohmann::json& summary) {
    if (summary.is_object() && summary.contains("files_depth") &&
        summary["files_depth"].is_number_unsigned())
        return summary["files_depth"].get<std::size_t>();
    return 0;
}

// The step's own inputs against a record's: files, then args and env.
std::string input_changes(const nlohmann::json& now, const nlohmann::json& then) {
    std::string out;
    Map files_now = as_map(now, "files");
    // A summary rolled up already (a large context) compares as it is: its
    // directory entries cannot be rolled up again into the record's.
    if (auto depth = files_depth(then); depth && !files_depth(now))
        files_now = rolled_up(files_now, depth);
    if (auto f = file_changes(as_map(then, "files"), files_now); !f.empty())
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

void set_compact_files(nlohmann::json& summary, const std::map<std::string, std::string>& files,
                       std::size_t limit) {
    summary.erase("files");
    summary.erase("files_depth");
    if (files.empty())
        return;
    if (files.size() <= limit) {
        summary["files"] = files;
        return;
    }
    for (std::size_t depth = 1;; ++depth) {
        Map rolled = rolled_up(files, depth);
        // The deepest rollup that fits; depth 1 when none does.
        if (rolled.size() > limit && depth > 1)
            break;
        const bool last = rolled.size() > limit || rolled.size() == files.size();
        summary["files"] = std::move(rolled);
        summary["files_depth"] = depth;
        if (last)
            break;
    }
}

nlohmann::json compact_summary(const nlohmann::json& summary, std::size_t limit) {
    Map files = as_map(summary, "files");
    if (files.size() <= limit)
        return summary;
    nlohmann::json out = summary;
    set_compact_files(out, files, limit);
    return out;
}

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
