// COPY and ADD: sources (context, stage, image, URL, git, heredoc), destination, flags, the
// CopyIgnoredFile check and the history text.
#include <map>
#include <sstream>

#include "base/add_source.h"
#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/go_compat.h"
#include "frontend/lower_stage.h"

namespace kiln::frontend {
namespace {

bool valid_chmod(const std::string& v) {
    if (all_of_chars(v, "0123456789"))
        return all_of_chars(v, "01234567") && v.size() <= 12 && std::stoull(v, nullptr, 8) <= 07777;
    // Symbolic: [ugoa]*[-+=][rwxXst]* clauses separated by ','.
    std::stringstream ss(v);
    std::string clause;
    int clauses = 0;
    while (std::getline(ss, clause, ',')) {
        size_t i = 0;
        while (i < clause.size() && std::string("ugoa").find(clause[i]) != std::string::npos)
            ++i;
        if (i >= clause.size() || std::string("+-=").find(clause[i]) == std::string::npos)
            return false;
        while (i < clause.size()) {
            if (std::string("+-=").find(clause[i]) != std::string::npos) {
                ++i;
                continue;
            }
            if (std::string("rwxXstugo").find(clause[i]) == std::string::npos)
                return false;
            ++i;
        }
        ++clauses;
    }
    return clauses > 0 && !v.ends_with(',');
}

bool valid_digest(const std::string& d) {
    auto colon = d.find(':');
    if (colon == std::string::npos)
        return false;
    std::string algo = d.substr(0, colon), hex = d.substr(colon + 1);
    size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
    return want != 0 && hex.size() == want && all_of_chars(hex, "0123456789abcdef");
}

}  // namespace

void StageLowerer::apply(const Node& node, const CopyInstruction& in) {
    const LowerContext& ctx = tools_.ctx;
    const bool is_add = in.is_add;
    const char* name = is_add ? "ADD" : "COPY";
    CopySpec spec;
    spec.is_add = is_add;
    spec.link = in.link;
    spec.parents = in.parents;
    spec.keep_git_dir = in.keep_git_dir;
    if (in.unpack) {
        spec.unpack = *in.unpack;
        spec.unpack_set = true;
    }
    spec.chown = expand(node, in.chown);
    spec.chmod = expand(node, in.chmod);
    if (!spec.chmod.empty() && !valid_chmod(spec.chmod))
        ctx.fail(node, "invalid chmod parameter: '" + spec.chmod +
                           "'. it should be octal string and between 0 and 07777");
    for (const auto& e : in.excludes)
        spec.excludes.push_back(expand(node, e));
    spec.checksum = expand(node, in.checksum);

    // Heredoc words name heredoc sources (shell form only).
    std::map<std::string, const Heredoc*> docs;
    for (const Heredoc& h : node.heredocs)
        docs[h.name] = &h;
    auto heredoc_word = [&](const std::string& w) -> std::optional<Heredoc> {
        if (node.json_form || node.heredocs.empty())
            return std::nullopt;
        try {
            return parse_heredoc(w);
        } catch (const DockerfileError&) {
            return std::nullopt;
        }
    };
    if (heredoc_word(node.args.back()))
        ctx.fail(node, std::string(name) + " cannot accept a heredoc as a destination");
    std::vector<std::string> sources;
    for (size_t i = 0; i + 1 < node.args.size(); ++i) {
        if (auto h = heredoc_word(node.args[i])) {
            auto it = docs.find(h->name);
            std::string content = it == docs.end() ? "" : it->second->content;
            if (h->chomp_tabs)
                content = chomp_heredoc_content(content);
            if (h->expand)
                content = expand_with(tools_.raw_lex, node, content, true);
            spec.heredocs.push_back({h->name, content});
            continue;
        }
        // An empty source names the context root, as BuildKit's NormalizePath does.
        sources.push_back(expand(node, node.args[i]));
    }
    std::string dest = expand(node, node.args.back());

    if (in.from) {
        FromSource src = from_source(node, *in.from, false);
        spec.from = src.image.empty() ? *in.from : src.image;
        spec.from_stage = src.stage;
        spec.from_image = std::move(src.image);
        spec.from_context = std::move(src.context);
    }
    if (!spec.checksum.empty()) {
        if (sources.size() + spec.heredocs.size() != 1)
            ctx.fail(node, "checksum can't be specified for multiple sources");
        if (sources.empty() || !kiln::is_http_source(sources[0]))
            ctx.fail(node, "checksum can't be specified for non-HTTP(S) sources");
        if (!valid_digest(spec.checksum))
            ctx.fail(node, "invalid checksum digest format");
    }
    for (const auto& src : sources) {
        if (kiln::is_git_source(src)) {
            if (!is_add)
                ctx.fail(node, "source can't be a git ref for COPY");
            continue;
        }
        if (kiln::is_http_source(src)) {
            if (!is_add)
                ctx.fail(node, "source can't be a URL for COPY");
            continue;
        }
        if (tools_.ignore && spec.from.empty()) {
            bool ignored = false;
            try {
                ignored = tools_.ignore->matches(src);
            } catch (const PatternError&) {
                ignored = false;
            }
            if (ignored)
                ctx.lint("CopyIgnoredFile", node.start_line,
                         std::string("Attempting to ") + (is_add ? "Add" : "Copy") + " file " +
                             go_quote(src) + " that is excluded by .dockerignore");
        }
    }
    spec.sources = sources;
    spec.dest_is_dir = dest.empty() || dest.ends_with('/') || dest == "." || dest.ends_with("/.") ||
                       sources.size() + spec.heredocs.size() > 1;
    spec.dest = join_abs_path(stage_.settings.working_dir, dest);

    std::string msg = name;
    if (spec.parents)
        msg += " --parents";
    if (!spec.chown.empty())
        msg += " --chown=" + spec.chown;
    if (!spec.chmod.empty())
        msg += " --chmod=" + spec.chmod;
    for (const auto& s : sources)
        msg += " " + s;
    for (const auto& h : spec.heredocs)
        msg += " <<" + h.name;
    msg += " " + dest + " # buildkit";
    Step& s = add_step(node, Step::Kind::copy, msg);
    s.copy = std::move(spec);
}

}  // namespace kiln::frontend
