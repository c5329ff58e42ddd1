// Build checks that need only the AST, and the Linter that collects every check's warnings.
//
// Rule names, messages and the line each warning points at follow BuildKit
// (frontend/dockerfile/linter/ruleset.go, instructions/parse.go, dockerfile2llb/convert.go,
// convert_expose.go) rather than the "Output" samples of the documentation pages where the two
// disagree: the pages show older wordings for several rules (MaintainerDeprecated,
// ReservedStageName, DuplicateStageName, ConsistentInstructionCasing, WorkdirRelativePath,
// JSONArgsRecommended, NoEmptyContinuation, InvalidDefinitionDescription), and `docker build`
// prints what the code says.
#include "frontend/lint.h"

#include "frontend/ascii.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <utility>

#include "base/go_quote.h"
#include "frontend/dockerfile_error.h"
#include "frontend/go_compat.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep, size_t limit = 0) {
    std::vector<std::string_view> parts;
    while (true) {
        if (limit != 0 && parts.size() + 1 == limit) {
            parts.push_back(s);
            return parts;
        }
        size_t pos = s.find(sep);
        if (pos == std::string_view::npos) {
            parts.push_back(s);
            return parts;
        }
        parts.push_back(s.substr(0, pos));
        s.remove_prefix(pos + 1);
    }
}

// The keyword as the file wrote it ("From", "EntRYpOiNT"): BuildKit's casing rules and the
// messages naming an instruction use that, not the lower-cased keyword.
std::string written_keyword(const Node& node) {
    std::string_view orig = node.original;
    while (!orig.empty() && is_space(orig.front())) {
        orig.remove_prefix(1);
    }
    if (orig.size() >= node.keyword.size() &&
        ascii_lower(orig.substr(0, node.keyword.size())) == node.keyword) {
        return std::string(orig.substr(0, node.keyword.size()));
    }
    return node.keyword;
}

bool self_consistent_casing(std::string_view s) {
    return s == ascii_lower(s) || s == ascii_upper(s);
}

bool is_known_instruction(const Node& node) {
    const auto& known = known_instructions();
    return std::binary_search(known.begin(), known.end(), ascii_upper(node.keyword));
}

// Expands a word with no variables at all. nullopt when the word refers to a variable (its
// value is lowering's business) or does not expand.
std::optional<ProcessWordResult> constant_word(std::string_view word, char escape) {
    try {
        ShellLex lex(escape);
        ProcessWordResult r = lex.process_word_with_matches(word, Environment{});
        if (!r.matched.empty() || !r.unmatched.empty()) {
            return std::nullopt;
        }
        return r;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// ---- containerd's platforms.Parse, as far as the OS and architecture go -----------------

bool platform_component_ok(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

std::string normalize_os(std::string_view os) {
    std::string o = ascii_lower(os);
    if (o == "macos") {
        return "darwin";
    }
    return o;
}

std::string normalize_arch(std::string_view arch) {
    std::string a = ascii_lower(arch);
    if (a == "i386") {
        return "386";
    }
    if (a == "x86_64" || a == "x86-64" || a == "amd64") {
        return "amd64";
    }
    if (a == "aarch64" || a == "arm64") {
        return "arm64";
    }
    if (a == "armhf" || a == "armel" || a == "arm") {
        return "arm";
    }
    return a;
}

bool known_os(std::string_view os) {
    static const std::array<std::string_view, 17> list = {
        "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
        "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};
    return std::find(list.begin(), list.end(), os) != list.end();
}

bool known_arch(std::string_view arch) {
    static const std::array<std::string_view, 25> list = {
        "386",       "amd64",       "amd64p32", "arm",   "armbe",   "arm64",  "arm64be",
        "ppc64",     "ppc64le",     "loong64",  "mips",  "mipsle",  "mips64", "mips64le",
        "mips64p32", "mips64p32le", "ppc",      "riscv", "riscv64", "s390",   "s390x",
        "sparc",     "sparc64",     "wasm",     "wasm32"};
    return std::find(list.begin(), list.end(), arch) != list.end();
}

std::string_view host_arch() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "amd64";
#endif
}

struct OsArch {
    std::string os, arch;
};

std::optional<OsArch> parse_platform(std::string_view spec) {
    if (spec.find('*') != std::string_view::npos) {
        return std::nullopt;
    }
    auto parts = split(spec, '/', 4);
    // "windows(10.0.17763)/amd64": the OS version in parentheses belongs to the OS part.
    std::string_view os_part = parts[0];
    if (size_t open = os_part.find('('); open != std::string_view::npos && os_part.back() == ')') {
        os_part = os_part.substr(0, open);
    }
    if (!platform_component_ok(os_part)) {
        return std::nullopt;
    }
    for (size_t i = 1; i < parts.size(); ++i) {
        if (!platform_component_ok(parts[i])) {
            return std::nullopt;
        }
    }
    switch (parts.size()) {
        case 1: {
            std::string os = normalize_os(os_part);
            if (known_os(os)) {
                return OsArch{os, std::string(host_arch())};
            }
            std::string arch = normalize_arch(os_part);
            if (known_arch(arch)) {
                return OsArch{"linux", arch};
            }
            return std::nullopt;
        }
        case 2:
        case 3:
            return OsArch{normalize_os(os_part), normalize_arch(parts[1])};
        default:
            return std::nullopt;
    }
}

// ---- the AST walk ---------------------------------------------------------------------------

struct Stage {
    const Node* from = nullptr;  // null for the instructions before the first FROM
    std::string name;            // lower-cased, as BuildKit keeps it; "" when unnamed
    std::vector<const Node*> commands;
    int parent = -1;  // index of the earlier stage this one is FROM, if any
    // State at the end of the stage, inherited by stages built FROM it.
    bool shell_set = false;
    bool workdir_set = false;
};

std::vector<Stage> split_stages(const ParseResult& parsed) {
    std::vector<Stage> stages(1);  // stages[0]: before the first FROM
    for (const Node& node : parsed.children) {
        if (node.keyword == "from") {
            Stage s;
            s.from = &node;
            if (node.args.size() == 3 && ascii_lower(node.args[1]) == "as") {
                s.name = ascii_lower(node.args[2]);
            }
            if (!node.args.empty()) {
                for (size_t i = stages.size(); i-- > 1;) {
                    if (!stages[i].name.empty() && stages[i].name == node.args[0]) {
                        s.parent = static_cast<int>(i);
                        break;
                    }
                }
            }
            stages.push_back(std::move(s));
        } else {
            stages.back().commands.push_back(&node);
        }
    }
    return stages;
}

void check_empty_continuations(const ParseResult& parsed, Linter& linter) {
    for (const Warning& w : parsed.warnings) {
        if (w.url.find("no-empty-continuation") != std::string::npos ||
            w.short_msg.rfind("Empty continuation line", 0) == 0) {
            linter.report("NoEmptyContinuation", w.line, "Empty continuation line");
        }
    }
}

void check_definition_description(std::string_view instruction,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& comments, int line,
                                  Linter& linter) {
    if (comments.empty() || keys.empty()) {
        return;
    }
    std::string_view last = comments.back();
    std::string_view first_word = last.substr(0, last.find(' '));
    if (std::find(keys.begin(), keys.end(), first_word) != keys.end()) {
        return;
    }
    std::string example = keys.size() > 1 ? "<arg_key>" : keys.front();
    linter.report("InvalidDefinitionDescription", line,
                  "Comment for " + std::string(instruction) + " should follow the format: `# " +
                      example + " <description>`");
}

// Checks BuildKit runs while turning nodes into instructions (instructions.Parse).
void check_instructions(const ParseResult& parsed, Linter& linter) {
    for (const Node& node : parsed.children) {
        const int line = node.start_line;
        if (node.keyword == "maintainer") {
            linter.report("MaintainerDeprecated", line,
                          "Maintainer instruction is deprecated in favor of using label");
        } else if (node.keyword == "from") {
            const std::string from = written_keyword(node);
            if (node.args.size() == 3 && node.args[2] != ascii_lower(node.args[2])) {
                linter.report("StageNameCasing", line,
                              "Stage name '" + node.args[2] + "' should be lowercase");
            }
            if (node.args.size() >= 3 && self_consistent_casing(from)) {
                const std::string& as = node.args[1];
                const bool lower = from == ascii_lower(from);
                if (as != (lower ? ascii_lower(as) : ascii_upper(as))) {
                    linter.report("FromAsCasing", line,
                                  "'" + as + "' and '" + from + "' keywords' casing do not match");
                }
            }
            if (node.args.size() == 3 && ascii_lower(node.args[1]) == "as") {
                check_definition_description("FROM", {ascii_lower(node.args[2])},
                                             description_comments(parsed, node), line, linter);
            }
        } else if (node.keyword == "arg") {
            std::vector<std::string> keys;
            for (const std::string& a : node.args) {
                keys.push_back(a.substr(0, a.find('=')));
            }
            check_definition_description("ARG", keys, description_comments(parsed, node), line,
                                         linter);
        }
    }
}

// dockerfile2llb's validateStageNames.
void check_stage_names(const std::vector<Stage>& stages, Linter& linter) {
    std::set<std::string, std::less<>> seen;
    for (size_t i = 1; i < stages.size(); ++i) {
        const Stage& s = stages[i];
        if (s.name.empty()) {
            continue;
        }
        if (s.name == "context" || s.name == "scratch") {
            linter.report(
                "ReservedStageName", s.from->start_line,
                "Stage name should not use the same name as reserved stage " + go_quote(s.name));
        }
        if (!seen.insert(s.name).second) {
            linter.report(
                "DuplicateStageName", s.from->start_line,
                "Duplicate stage name " + go_quote(s.name) + ", stage names should be unique");
        }
    }
}

// dockerfile2llb's validateCommandCasing: the instructions of every stage (not the global
// ARGs before the first FROM), ONBUILD counted by its own keyword.
void check_command_casing(const std::vector<Stage>& stages, Linter& linter) {
    std::vector<const Node*> nodes;
    for (size_t i = 1; i < stages.size(); ++i) {
        nodes.push_back(stages[i].from);
        for (const Node* n : stages[i].commands) {
            if (is_known_instruction(*n)) {
                nodes.push_back(n);
            }
        }
    }
    int lower = 0, upper = 0;
    for (const Node* n : nodes) {
        const std::string w = written_keyword(*n);
        if (self_consistent_casing(w)) {
            (w == ascii_lower(w) ? lower : upper)++;
        }
    }
    const bool majority_lower = lower > upper;
    for (const Node* n : nodes) {
        const std::string w = written_keyword(*n);
        const char* want = nullptr;
        if (majority_lower && w != ascii_lower(w)) {
            want = "lowercase";
        } else if (!majority_lower && w != ascii_upper(w)) {
            want = "uppercase";
        }
        if (want != nullptr) {
            linter.report(
                "ConsistentInstructionCasing", n->start_line,
                "Command '" + w + "' should match the case of the command majority (" + want + ")");
        }
    }
}

// dockerfile2llb's reportConstPlatformDisallowed, for a --platform without any variable.
void check_const_platform(const std::vector<Stage>& stages, char escape, Linter& linter) {
    for (size_t i = 1; i < stages.size(); ++i) {
        const Stage& s = stages[i];
        std::optional<std::string> value;
        for (const std::string& f : s.from->flags) {
            if (f.rfind("--platform=", 0) == 0) {
                value = f.substr(11);
            }
        }
        if (!value || value->empty()) {
            continue;
        }
        auto word = constant_word(*value, escape);
        if (!word) {
            continue;
        }
        auto p = parse_platform(word->result);
        if (!p) {
            continue;
        }
        if (s.name.find(p->os) != std::string::npos || s.name.find(p->arch) != std::string::npos) {
            continue;
        }
        linter.report(
            "FromPlatformFlagConstDisallowed", s.from->start_line,
            "FROM --platform flag should not use constant value " + go_quote(word->result));
    }
}

struct PortParts {
    std::string ip, host_port, container_port;
};

// convert_expose.go's splitParts.
PortParts split_port(std::string_view raw) {
    auto parts = split(raw, ':');
    switch (parts.size()) {
        case 1:
            return {"", "", std::string(parts[0])};
        case 2:
            return {"", std::string(parts[0]), std::string(parts[1])};
        default: {
            std::string ip;
            for (size_t i = 0; i + 2 < parts.size(); ++i) {
                if (i)
                    ip += ':';
                ip += parts[i];
            }
            return {ip, std::string(parts[parts.size() - 2]), std::string(parts.back())};
        }
    }
}

void check_expose(const Node& node, char escape, Linter& linter) {
    for (const std::string& arg : node.args) {
        auto word = constant_word(arg, escape);
        if (!word) {
            continue;
        }
        for (const std::string& raw : word->words) {
            PortParts parts = split_port(raw);
            const size_t slash = parts.container_port.find('/');
            const std::string port = parts.container_port.substr(0, slash);
            const std::string proto =
                slash == std::string::npos ? "" : parts.container_port.substr(slash + 1);
            const std::string proto_lower = ascii_lower(proto);
            if (port.empty() || (proto_lower != "" && proto_lower != "tcp" &&
                                 proto_lower != "udp" && proto_lower != "sctp")) {
                return;  // BuildKit fails on this EXPOSE before linting further ports
            }
            if (proto != proto_lower) {
                linter.report(
                    "ExposeProtoCasing", node.start_line,
                    "Defined protocol '" + raw + "' in EXPOSE instruction should be lowercase");
            }
            if (!parts.ip.empty() || !parts.host_port.empty()) {
                linter.report("ExposeInvalidFormat", node.start_line,
                              "EXPOSE instruction should not define an IP address or host-port "
                              "mapping, found '" +
                                  raw + "'");
            }
        }
    }
}

// Checks BuildKit runs while dispatching a stage's instructions (dockerfile2llb dispatch*).
void check_dispatch(std::vector<Stage>& stages, char escape, Linter& linter) {
    for (Stage& s : stages) {
        if (s.parent >= 0) {
            s.shell_set = stages[static_cast<size_t>(s.parent)].shell_set;
            s.workdir_set = stages[static_cast<size_t>(s.parent)].workdir_set;
        }
        // Per stage, never inherited: the previous CMD / ENTRYPOINT / HEALTHCHECK.
        std::map<std::string, const Node*> used_once;
        for (const Node* n : s.commands) {
            const std::string& k = n->keyword;
            const std::string written = written_keyword(*n);
            const int line = n->start_line;
            if (k == "cmd" || k == "entrypoint" || k == "healthcheck") {
                auto [it, fresh] = used_once.try_emplace(k, n);
                if (!fresh) {
                    // Reported where the overridden one is, as upstream.
                    linter.report("MultipleInstructionsDisallowed", it->second->start_line,
                                  "Multiple " + written +
                                      " instructions should not be used in the same stage "
                                      "because only the last one will be used");
                    it->second = n;
                }
                if (k != "healthcheck" && !n->json_form && !s.shell_set) {
                    linter.report("JSONArgsRecommended", line,
                                  "JSON arguments recommended for " + written +
                                      " to prevent unintended behavior related to OS signals");
                }
            } else if (k == "shell") {
                s.shell_set = !n->args.empty();
            } else if (k == "workdir") {
                if (!s.workdir_set && !n->args.empty()) {
                    auto word = constant_word(n->args.front(), escape);
                    if (word && (word->result.empty() || word->result.front() != '/')) {
                        linter.report("WorkdirRelativePath", line,
                                      "Relative workdir " + go_quote(word->result) +
                                          " can have unexpected results if the base image "
                                          "changes");
                    }
                }
                s.workdir_set = true;
            } else if (k == "env" || k == "label") {
                for (size_t i = 2; i < n->args.size(); i += 3) {
                    if (n->args[i].empty()) {
                        linter.report("LegacyKeyValueFormat", line,
                                      "\"" + written +
                                          " key=value\" should be used instead of "
                                          "legacy \"" +
                                          written + " key value\" format");
                    }
                }
            } else if (k == "expose") {
                check_expose(*n, escape, linter);
            }
        }
    }
}

std::string kebab_case(std::string_view name) {
    std::string out;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool up = c >= 'A' && c <= 'Z';
        if (up && i > 0) {
            const char prev = name[i - 1];
            const bool prev_lower = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
            const bool next_lower = i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z';
            const bool prev_upper = prev >= 'A' && prev <= 'Z';
            if (prev_lower || (prev_upper && next_lower)) {
                out += '-';
            }
        }
        out += up ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

}  // namespace

// The first instruction's comments may begin with the parser directives (they are comment
// lines too); BuildKit drops those from the description comments.
std::vector<std::string> description_comments(const ParseResult& parsed, const Node& node) {
    std::vector<std::string> comments = node.comments;
    if (&node != &parsed.children.front()) {
        return comments;
    }
    size_t drop = 0;
    while (drop < comments.size()) {
        std::string_view c = comments[drop];
        size_t eq = c.find('=');
        if (eq == std::string_view::npos) {
            break;
        }
        std::string key = ascii_lower(trim(c.substr(0, eq)));
        auto it = parsed.directives.find(key);
        if (it == parsed.directives.end() || trim(c.substr(eq + 1)) != trim(it->second)) {
            break;
        }
        ++drop;
    }
    comments.erase(comments.begin(), comments.begin() + static_cast<std::ptrdiff_t>(drop));
    return comments;
}

// ---- Linter ---------------------------------------------------------------------------------

Linter::Linter(const ParseResult& parsed, std::string filename) : filename_(std::move(filename)) {
    auto it = parsed.directives.find("check");
    if (it == parsed.directives.end()) {
        return;
    }
    std::string_view value = trim(it->second);
    if (value.empty()) {
        return;
    }
    const auto fail = [&](const std::string& why) {
        return DockerfileError(filename_, 0, "failed to parse check options: " + why);
    };
    // As BuildKit's linter.ParseLintOptions: at most three ';'-separated options.
    for (std::string_view part : split(value, ';', 3)) {
        const size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            throw fail("invalid check option " + go_quote(part));
        }
        const std::string_view key = trim(part.substr(0, eq));
        const std::string_view v = trim(part.substr(eq + 1));
        if (key == "skip" || key == "experimental") {
            const bool skip = key == "skip";
            if (v == "all") {
                (skip ? skip_all_ : experimental_all_) = true;
            } else {
                for (std::string_view rule : split(v, ',')) {
                    (skip ? skip_ : experimental_).emplace(trim(rule));
                }
            }
        } else if (key == "error") {
            auto b = parse_go_bool(v);
            if (!b) {
                throw fail("failed to parse check option " + go_quote(part) +
                           ": strconv.ParseBool: parsing " + go_quote(v) + ": invalid syntax");
            }
            error_ = *b;
        } else {
            throw fail("invalid check option " + go_quote(key));
        }
    }
}

bool Linter::is_experimental(std::string_view rule) {
    return rule == "InvalidDefinitionDescription";
}

bool Linter::skipped(std::string_view rule) const {
    if (is_experimental(rule)) {
        return !(experimental_all_ || experimental_.contains(rule));
    }
    return skip_all_ || skip_.contains(rule);
}

void Linter::report(std::string_view rule, int line, std::string message) {
    if (skipped(rule)) {
        return;
    }
    for (const LintWarning& w : warnings_) {
        if (w.rule == rule && w.line == line && w.message == message) {
            return;
        }
    }
    warnings_.push_back(LintWarning{std::string(rule), std::move(message), rule_url(rule), line});
}

std::string Linter::format(const LintWarning& w) const {
    std::string out = filename_;
    // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on
    // `"literal" + std::string&&`.
    if (w.line > 0) {
        out += ':';
        out += std::to_string(w.line);
    }
    return out + ": " + w.rule + ": " + w.message;
}

std::string Linter::violation_error() const {
    if (!error_ || warnings_.empty()) {
        return {};
    }
    std::vector<std::string_view> rules;
    for (const LintWarning& w : warnings_) {
        if (std::find(rules.begin(), rules.end(), w.rule) == rules.end()) {
            rules.push_back(w.rule);
        }
    }
    std::string out = "lint violation found for rules: ";
    for (size_t i = 0; i < rules.size(); ++i) {
        out += (i ? ", " : "") + std::string(rules[i]);
    }
    return out;
}

std::string rule_url(std::string_view rule) {
    return "https://docs.docker.com/go/dockerfile/rule/" + kebab_case(rule) + "/";
}

void run_syntax_checks(const ParseResult& parsed, Linter& linter) {
    if (parsed.children.empty()) {
        return;
    }
    std::vector<Stage> stages = split_stages(parsed);
    check_empty_continuations(parsed, linter);
    check_instructions(parsed, linter);
    check_stage_names(stages, linter);
    check_command_casing(stages, linter);
    check_const_platform(stages, parsed.escape, linter);
    check_dispatch(stages, parsed.escape, linter);
}

}  // namespace kiln::frontend
