#include "frontend/outline.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "frontend/ascii.h"
#include "frontend/lint.h"

namespace kiln::frontend {

namespace {

// A description comment names what it describes first: "# NAME what it is" → "what it is".
std::string description_of(const ParseResult& parsed, const Node& node, const std::string& name) {
    std::string text;
    for (const auto& c : description_comments(parsed, node))
        text += (text.empty() ? "" : " ") + c;
    if (text.rfind(name + " ", 0) == 0)
        return text.substr(name.size() + 1);
    return text == name ? "" : text;
}

// Whether `text` expands the variable `name` ($NAME or ${NAME...}).
bool mentions(const std::string& text, const std::string& name) {
    for (std::size_t at = text.find('$'); at != std::string::npos; at = text.find('$', at + 1)) {
        std::size_t from = at + 1 + (at + 1 < text.size() && text[at + 1] == '{' ? 1 : 0);
        if (text.compare(from, name.size(), name) != 0)
            continue;
        const std::size_t end = from + name.size();
        if (end == text.size() ||
            !(std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_'))
            return true;
    }
    return false;
}

std::string stage_name_of(const Node& from, std::size_t index) {
    // FROM image AS name: args are [image, "AS", name].
    if (from.args.size() >= 3 && ascii_lower(from.args[1]) == "as")
        return ascii_lower(from.args[2]);
    return "stage-" + std::to_string(index);
}

class Table {
  public:
    void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
    std::string str() const {
        std::vector<std::size_t> width;
        for (const auto& r : rows_)
            for (std::size_t i = 0; i < r.size(); ++i) {
                width.resize(std::max(width.size(), i + 1));
                width[i] = std::max(width[i], r[i].size());
            }
        std::string out;
        for (const auto& r : rows_) {
            std::string line;
            for (std::size_t i = 0; i < r.size(); ++i) {
                line += r[i];
                if (i + 1 < r.size())
                    line += std::string(width[i] - r[i].size() + 3, ' ');
            }
            while (!line.empty() && line.back() == ' ')
                line.pop_back();
            out += line + "\n";
        }
        return out;
    }

  private:
    std::vector<std::vector<std::string>> rows_;
};

}  // namespace

Outline outline(const ParseResult& parsed, const LowerOptions& options) {
    const BuildPlan plan = lower(parsed, options);
    const std::set<int> needed(plan.needed.begin(), plan.needed.end());
    Outline out;
    const Stage& target = plan.stages[static_cast<std::size_t>(plan.target)];
    out.target = target.name.empty() ? "stage-" + std::to_string(plan.target) : target.name;

    std::vector<const Node*> globals;
    std::vector<std::pair<const Node*, int>> stage_args;  // ARG nodes of needed stages
    std::vector<const Node*> needed_froms;
    int stage = -1;
    for (const Node& node : parsed.children) {
        if (node.keyword == "from") {
            ++stage;
            if (needed.count(stage))
                needed_froms.push_back(&node);
            if (stage == plan.target)
                out.description = description_of(parsed, node, out.target);
        } else if (node.keyword == "arg") {
            if (stage < 0)
                globals.push_back(&node);
            else if (needed.count(stage))
                stage_args.emplace_back(&node, stage);
        }
    }
    std::set<std::string> seen;
    auto add = [&](const Node& node, const std::string& word) {
        const auto eq = word.find('=');
        Outline::Arg a;
        a.name = word.substr(0, eq);
        if (!seen.insert(a.name).second)
            return;
        if (auto it = options.build_args.find(a.name); it != options.build_args.end()) {
            a.value = it->second;
            a.has_value = true;
        } else if (eq != std::string::npos) {
            a.value = word.substr(eq + 1);
            a.has_value = true;
        }
        if (node.args.size() == 1)
            a.description = description_of(parsed, node, a.name);
        out.args.push_back(std::move(a));
    };
    // A global ARG is the target's when a needed FROM line names it or a needed stage
    // declares it again; a stage's own come after, in order.
    std::set<std::string> redeclared;
    for (const auto& [node, s] : stage_args)
        for (const auto& word : node->args)
            redeclared.insert(word.substr(0, word.find('=')));
    for (const Node* node : globals)
        for (const auto& word : node->args) {
            const std::string name = word.substr(0, word.find('='));
            bool used = redeclared.count(name) > 0;
            for (const Node* from : needed_froms) {
                used = used || (!from->args.empty() && mentions(from->args[0], name));
                for (const auto& flag : from->flags)
                    used = used || mentions(flag, name);
            }
            if (used)
                add(*node, word);
        }
    for (const auto& [node, s] : stage_args)
        for (const auto& word : node->args)
            add(*node, word);

    auto note = [](std::vector<Outline::Mount>& list, const MountSpec& m) {
        for (auto& e : list)
            if (e.id == m.id) {
                e.required = e.required || m.required;
                return;
            }
        list.push_back({m.id, m.required});
    };
    for (int i : plan.needed)
        for (const Step& step : plan.stages[static_cast<std::size_t>(i)].steps)
            for (const MountSpec& m : step.run.mounts) {
                if (m.type == "secret")
                    note(out.secrets, m);
                else if (m.type == "ssh")
                    note(out.ssh, m);
            }
    return out;
}

std::vector<TargetEntry> targets(const ParseResult& parsed) {
    std::vector<TargetEntry> out;
    std::size_t index = 0;
    const Node* last = nullptr;
    for (const Node& node : parsed.children) {
        if (node.keyword != "from")
            continue;
        last = &node;
        const bool named = node.args.size() >= 3 && ascii_lower(node.args[1]) == "as";
        const std::string name = stage_name_of(node, index);
        if (named)
            out.push_back({name, description_of(parsed, node, name), false});
        ++index;
    }
    if (!last)
        return out;
    const std::string last_name = stage_name_of(*last, index - 1);
    if (out.empty() || out.back().name != last_name)
        out.push_back({last_name, description_of(parsed, *last, last_name), false});
    out.back().is_default = true;
    return out;
}

std::string format_outline(const Outline& o) {
    std::string out = "TARGET:      " + o.target + "\n";
    if (!o.description.empty())
        out += "DESCRIPTION: " + o.description + "\n";
    if (!o.args.empty()) {
        Table t;
        t.row({"BUILD ARG", "VALUE", "DESCRIPTION"});
        for (const auto& a : o.args)
            t.row({a.name, a.has_value ? a.value : "", a.description});
        out += "\n" + t.str();
    }
    for (const auto* list : {&o.secrets, &o.ssh}) {
        if (list->empty())
            continue;
        Table t;
        t.row({list == &o.secrets ? "SECRET" : "SSH", "REQUIRED"});
        for (const auto& m : *list)
            t.row({m.id, m.required ? "true" : "false"});
        out += "\n" + t.str();
    }
    return out;
}

std::string format_targets(const std::vector<TargetEntry>& targets) {
    Table t;
    t.row({"TARGET", "DESCRIPTION"});
    for (const auto& e : targets)
        t.row({e.name + (e.is_default ? " (default)" : ""), e.description});
    return t.str();
}

}  // namespace kiln::frontend
