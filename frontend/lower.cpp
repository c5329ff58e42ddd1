#include "frontend/lower.h"

#include "frontend/ascii.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <sstream>

#include "frontend/dockerignore.h"
#include "frontend/lint.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {

namespace {

const char* const kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Build-check messages follow BuildKit's linter/ruleset.go (what `docker build` prints), as
// frontend/lint.cpp does; the rule pages' "Output" samples agree with it except for
// SecretsUsedInArgOrEnv and InvalidDefaultArgInFrom, whose samples are the rule descriptions.
std::string invalid_default_arg_message(const std::string& base) {
    return "Default value for ARG " + base + " results in empty or invalid base image name";
}

const std::vector<std::string>& proxy_args() {
    static const std::vector<std::string> names = {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
        "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
    return names;
}

// Go's %q of a string (enough for the printable text Dockerfiles hold).
std::string go_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '\t') {
            out += "\\t";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

// Go's %q of a []string: ["a" "b"], as BuildKit writes CMD/ENTRYPOINT history.
std::string go_quote_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) {
        if (i)
            out += ' ';
        out += '"';
        for (char c : v[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "]";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i)
        out += (i ? sep : "") + v[i];
    return out;
}

// Lexically cleans an absolute path (Go's path.Clean on "/"-rooted paths).
std::string clean_abs(const std::string& p) {
    std::vector<std::string> parts;
    std::stringstream ss(p);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty() || part == ".")
            continue;
        if (part == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(part);
    }
    std::string out;
    for (auto& x : parts)
        out += "/" + x;
    return out.empty() ? "/" : out;
}

std::string join_path(const std::string& dir, const std::string& p) {
    if (p.starts_with('/'))
        return clean_abs(p);
    return clean_abs((dir.empty() ? "/" : dir) + "/" + p);
}

// Go-style duration ("30s", "1m30s", "500ms") → nanoseconds; -1 when malformed.
long long parse_duration(const std::string& s) {
    if (s == "0")
        return 0;
    long long total = 0;
    size_t i = 0;
    if (s.empty())
        return -1;
    while (i < s.size()) {
        size_t start = i;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
            ++i;
        if (start == i)
            return -1;
        double value = 0;
        try {
            value = std::stod(s.substr(start, i - start));
        } catch (const std::exception&) {
            return -1;
        }
        size_t ustart = i;
        while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.')
            ++i;
        std::string unit = s.substr(ustart, i - ustart);
        double mult = 0;
        if (unit == "ns")
            mult = 1;
        else if (unit == "us" || unit == "µs")
            mult = 1e3;
        else if (unit == "ms")
            mult = 1e6;
        else if (unit == "s")
            mult = 1e9;
        else if (unit == "m")
            mult = 60e9;
        else if (unit == "h")
            mult = 3600e9;
        else
            return -1;
        total += static_cast<long long>(value * mult);
    }
    return total;
}

// Go's strconv.ParseBool.
std::optional<bool> parse_bool(const std::string& s) {
    if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True")
        return true;
    if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
        return false;
    return std::nullopt;
}

bool all_of_chars(const std::string& s, const char* set) {
    return !s.empty() && s.find_first_not_of(set) == std::string::npos;
}

size_t levenshtein(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// The closest option to name (BuildKit's suggest.Search), "" when none is close.
std::string suggest(const std::string& name, const std::vector<std::string>& options) {
    std::string best;
    size_t best_dist = std::string::npos;
    for (const auto& o : options) {
        if (o == name)
            continue;
        size_t d = levenshtein(name, o);
        if (d < best_dist) {
            best_dist = d;
            best = o;
        }
    }
    size_t allowed = name.size() >= 4 ? 2 : 1;
    return best_dist <= allowed ? best : "";
}

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component of an image name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
bool valid_name_component(const std::string& s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
        return false;
    for (size_t i = 0; i < s.size();) {
        if (is_lower_alnum(s[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && !is_lower_alnum(s[j]))
            ++j;
        std::string sep = s.substr(i, j - i);
        if (sep != "." && sep != "_" && sep != "__" && !all_of_chars(sep, "-"))
            return false;
        i = j;
    }
    return true;
}

// Whether s parses as an image reference (distribution's ParseNormalizedNamed).
bool valid_image_ref(std::string s) {
    if (s.empty())
        return false;
    if (auto at = s.find('@'); at != std::string::npos) {
        std::string dg = s.substr(at + 1);
        s = s.substr(0, at);
        auto colon = dg.find(':');
        if (colon == std::string::npos || colon == 0 ||
            !all_of_chars(dg.substr(colon + 1), "0123456789abcdef"))
            return false;
    }
    auto slash = s.rfind('/');
    auto colon = s.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        std::string tag = s.substr(colon + 1);
        s = s.substr(0, colon);
        if (tag.empty() || tag.size() > 128)
            return false;
        static const char* word = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        if (std::string(word).find(tag[0]) == std::string::npos)
            return false;
        if (!all_of_chars(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"))
            return false;
    }
    if (s.empty() || s.size() > 255)
        return false;
    std::vector<std::string> parts;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, '/'))
        parts.push_back(part);
    if (s.back() == '/')
        return false;
    size_t first = 0;
    if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string::npos ||
                             parts[0] == "localhost" || parts[0] != ascii_lower(parts[0]))) {
        std::string host = parts[0].substr(0, parts[0].find(':'));
        if (host.empty() ||
            !all_of_chars(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"))
            return false;
        first = 1;
    }
    for (size_t i = first; i < parts.size(); ++i) {
        if (!valid_name_component(parts[i]))
            return false;
    }
    return true;
}

bool is_git_ref(const std::string& s) {
    if (s.starts_with("git@") || s.starts_with("git://") || s.starts_with("ssh://"))
        return true;
    if (s.starts_with("http://") || s.starts_with("https://")) {
        std::string path = s.substr(0, s.find('#'));
        return path.ends_with(".git") || path.ends_with(".git/");
    }
    return false;
}

bool is_http_source(const std::string& s) {
    return (s.starts_with("http://") || s.starts_with("https://")) && !is_git_ref(s);
}

// Go's encoding/csv reading of one record (as BuildKit reads --mount values).
std::optional<std::vector<std::string>> csv_fields(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    size_t i = 0;
    while (true) {
        cur.clear();
        if (i < s.size() && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                if (s[i] == '"') {
                    if (i + 1 < s.size() && s[i + 1] == '"') {
                        cur += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                cur += s[i++];
            }
            if (!closed || (i < s.size() && s[i] != ','))
                return std::nullopt;
        } else {
            while (i < s.size() && s[i] != ',') {
                if (s[i] == '"')
                    return std::nullopt;
                cur += s[i++];
            }
        }
        out.push_back(cur);
        if (i >= s.size())
            break;
        ++i;  // ','
    }
    return out;
}

// Raw "from=" value of a --mount flag value, for the stage graph.
std::string mount_from_raw(const std::string& value) {
    auto fields = csv_fields(value);
    if (!fields)
        return "";
    std::string from;
    for (const auto& f : *fields) {
        auto eq = f.find('=');
        if (eq != std::string::npos && ascii_lower(f.substr(0, eq)) == "from")
            from = f.substr(eq + 1);
    }
    return from;
}

bool valid_stage_name(const std::string& s) {
    if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    return all_of_chars(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.");
}

struct FlagSpec {
    enum class Type { string, boolean, multi };
    const char* name;
    Type type;
};

struct Flags {
    std::map<std::string, std::string> str;
    std::map<std::string, bool> boolean;
    std::map<std::string, std::vector<std::string>> multi;
    bool has(const std::string& n) const {
        return str.count(n) || boolean.count(n) || multi.count(n);
    }
    std::string get(const std::string& n) const {
        auto it = str.find(n);
        return it == str.end() ? "" : it->second;
    }
    bool on(const std::string& n) const {
        auto it = boolean.find(n);
        return it != boolean.end() && it->second;
    }
    std::vector<std::string> all(const std::string& n) const {
        auto it = multi.find(n);
        return it == multi.end() ? std::vector<std::string>{} : it->second;
    }
};

// What lowering keeps per stage beyond the Stage itself.
struct StageState {
    Environment env;  // BuildKit's state env: ENV and ARG values
    // Declared ARGs (name, value), inherited from a base stage first.
    std::vector<std::pair<std::string, std::optional<std::string>>> build_args;
    bool env_known = true;  // false when built on an image whose ENV is unknown
    bool cmd_set = false;
    bool lowered = false;
    // ONBUILD instructions of this stage, run by stages built FROM it.
    std::vector<std::shared_ptr<const Node>> onbuild;
};

struct StagePlan {  // what pass 1 learns of a stage
    const Node* from = nullptr;
    std::vector<const Node*> nodes;
};

class Lowerer {
  public:
    Lowerer(const ParseResult& parsed, const LowerOptions& opt)
        : parsed_(parsed), opt_(opt), lex_(parsed.escape) {
        ShellLexOptions raw;
        raw.skip_process_quotes = true;
        raw_lex_ = std::make_unique<ShellLex>('\\', raw);
        if (opt_.linter && !opt_.ignore_patterns.empty()) {
            try {
                ignore_ = std::make_unique<PatternMatcher>(opt_.ignore_patterns);
            } catch (const PatternError&) {
                ignore_.reset();
            }
        }
    }

    BuildPlan run() {
        split();
        predefined_args();
        check_default_args_in_from();
        meta_args();
        stages_from();
        graph();
        choose_target();
        compute_needed();
        for (size_t i = 0; i < raw_.size(); ++i) {
            if (opt_.all_stages || needed_.count(static_cast<int>(i)))
                lower_stage(static_cast<int>(i));
        }
        plan_.needed.assign(needed_.begin(), needed_.end());
        for (const auto& [name, value] : opt_.build_args) {
            if (!used_args_.count(name) && !is_predefined(name))
                plan_.unused_build_args.push_back(name);
        }
        return std::move(plan_);
    }

  private:
    [[noreturn]] void fail(const Node& node, const std::string& msg) const {
        throw DockerfileError(opt_.filename, node.start_line, msg, node.end_line, opt_.source);
    }
    [[noreturn]] void fail_line(int line, const std::string& msg) const {
        throw DockerfileError(opt_.filename, line, msg, line, opt_.source);
    }

    void lint(std::string_view rule, int line, std::string msg) {
        if (opt_.linter)
            opt_.linter->report(rule, line, std::move(msg));
    }

    static bool is_predefined(const std::string& name) {
        static const std::set<std::string> names = {"TARGETPLATFORM", "TARGETOS",      "TARGETARCH",
                                                    "TARGETVARIANT",  "BUILDPLATFORM", "BUILDOS",
                                                    "BUILDARCH",      "BUILDVARIANT"};
        return names.count(name) != 0 ||
               std::find(proxy_args().begin(), proxy_args().end(), name) != proxy_args().end();
    }

    // --- pass 1: stages, global args, FROM, the stage graph -----------------------------------

    void split() {
        for (const Node& node : parsed_.children) {
            if (node.keyword == "from") {
                raw_.push_back({&node, {}});
                continue;
            }
            if (raw_.empty()) {
                if (node.keyword == "arg") {
                    global_arg_nodes_.push_back(&node);
                    continue;
                }
                fail(node, "no build stage in current context");
            }
            raw_.back().nodes.push_back(&node);
        }
        if (raw_.empty())
            fail_line(0, "dockerfile contains no stages to build");
    }

    void predefined_args() {
        auto platform = [](const std::string& os, const std::string& arch,
                           const std::string& variant) {
            return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
        };
        std::string bos = opt_.build_os.empty() ? opt_.os : opt_.build_os;
        std::string barch = opt_.build_arch.empty() ? opt_.arch : opt_.build_arch;
        std::string bvar =
            opt_.build_arch.empty() && opt_.build_os.empty() ? opt_.variant : opt_.build_variant;
        std::vector<std::pair<std::string, std::string>> vals = {
            {"BUILDPLATFORM", platform(bos, barch, bvar)},
            {"BUILDOS", bos},
            {"BUILDARCH", barch},
            {"BUILDVARIANT", bvar},
            {"TARGETPLATFORM", platform(opt_.os, opt_.arch, opt_.variant)},
            {"TARGETOS", opt_.os},
            {"TARGETARCH", opt_.arch},
            {"TARGETVARIANT", opt_.variant},
        };
        for (auto& [k, v] : vals) {
            if (auto it = opt_.build_args.find(k); it != opt_.build_args.end())
                v = it->second;
            defaults_.set(k, v);
        }
    }

    // ARG words: "name[=value]".
    std::vector<std::pair<std::string, std::optional<std::string>>> arg_words(const Node& node) {
        parse_flags(node, {});
        if (node.args.empty())
            fail(node, "ARG requires at least one argument");
        std::vector<std::pair<std::string, std::optional<std::string>>> out;
        for (const auto& word : node.args) {
            auto eq = word.find('=');
            std::string name = word.substr(0, eq);
            if (name.empty())
                fail(node, "ARG names can not be blank");
            std::optional<std::string> value;
            if (eq != std::string::npos)
                value = word.substr(eq + 1);
            out.emplace_back(name, value);
        }
        return out;
    }

    // BuildKit's buildMetaArgs: the global scope with or without --build-arg values.
    Environment meta_env(bool with_build_args, std::set<std::string>* declared) {
        Environment env = defaults_;
        for (const Node* node : global_arg_nodes_) {
            for (auto& [name, value] : arg_words(*node)) {
                if (declared)
                    declared->insert(name);
                auto it = opt_.build_args.find(name);
                if (with_build_args && it != opt_.build_args.end()) {
                    value = it->second;
                } else if (value) {
                    try {
                        value = lex_.process_word(*value, env);
                    } catch (const ExpansionError& e) {
                        fail(*node, e.what());
                    }
                }
                if (value)
                    env.set(name, *value);
            }
        }
        return env;
    }

    void check_default_args_in_from() {
        if (!opt_.linter)
            return;
        Environment env;
        try {
            env = meta_env(false, nullptr);
        } catch (const DockerfileError&) {
            return;  // reported again, as an error, below
        }
        for (const auto& rs : raw_) {
            if (rs.from->args.empty())
                continue;
            std::string name;
            try {
                name = lex_.process_word(rs.from->args[0], env);
            } catch (const ExpansionError&) {
                return;
            }
            if (!valid_image_ref(name))
                lint("InvalidDefaultArgInFrom", rs.from->start_line,
                     invalid_default_arg_message(rs.from->args[0]));
        }
    }

    void meta_args() {
        global_ = meta_env(true, &global_declared_);
        for (const auto& n : global_declared_)
            used_args_.insert(n);
    }

    void report_from_args(const Node& node, const std::set<std::string>& unmatched) {
        std::vector<std::string> keys(global_declared_.begin(), global_declared_.end());
        for (const auto& [k, v] : global_.entries()) {
            if (!global_declared_.count(k))
                keys.push_back(k);
        }
        for (const auto& name : unmatched) {
            if (global_declared_.count(name) || global_.get(name))
                continue;
            std::string msg = "FROM argument '" + name + "' is not declared";
            if (auto s = suggest(name, keys); !s.empty())
                msg += " (did you mean " + s + "?)";
            lint("UndefinedArgInFrom", node.start_line, msg);
        }
    }

    void stages_from() {
        for (size_t i = 0; i < raw_.size(); ++i) {
            const Node& node = *raw_[i].from;
            auto fl = parse_flags(node, {{"platform", FlagSpec::Type::string}});
            if (node.args.size() != 1 && node.args.size() != 3)
                fail(node, "FROM requires either one or three arguments");
            if (node.args.size() == 3 && ascii_lower(node.args[1]) != "as")
                fail(node, "FROM requires either one or three arguments");
            Stage st;
            st.index = static_cast<int>(i);
            st.line = node.start_line;
            ProcessWordResult r;
            try {
                r = lex_.process_word_with_matches(node.args[0], global_);
            } catch (const ExpansionError& e) {
                fail(node, e.what());
            }
            report_from_args(node, r.unmatched);
            st.base = r.result;
            if (st.base.empty())
                fail(node, "base name (" + node.args[0] + ") should not be blank");
            if (node.args.size() == 3) {
                st.name = ascii_lower(node.args[2]);
                if (!valid_stage_name(st.name))
                    fail(node, "invalid name for build stage: \"" + node.args[2] +
                                   "\", name can't start with a number or contain symbols");
                for (const auto& s : plan_.stages) {
                    if (s.name == st.name)
                        fail(node, "duplicate stage name \"" + st.name + "\"");
                }
            }
            if (fl.str.count("platform")) {
                std::string raw = fl.get("platform");
                ProcessWordResult p;
                try {
                    p = lex_.process_word_with_matches(raw, global_);
                } catch (const ExpansionError& e) {
                    fail(node,
                         std::string("failed to process arguments for platform: ") + e.what());
                }
                report_from_args(node, p.unmatched);
                if (p.matched.size() == 1 && p.unmatched.empty() &&
                    p.matched.count("TARGETPLATFORM") &&
                    global_.get("TARGETPLATFORM").value_or("") == p.result) {
                    lint("RedundantTargetPlatform", node.start_line,
                         "Setting platform to predefined " + raw +
                             " in FROM is redundant as this is the default behavior");
                }
                if (p.result.empty())
                    fail(node, "empty platform value from expression " + raw);
                st.platform = p.result;
                for (const auto& part : {st.platform.substr(0, st.platform.find('/'))}) {
                    if (part.empty() || st.platform.ends_with('/') ||
                        st.platform.find("//") != std::string::npos)
                        fail(node, "failed to parse platform " + raw);
                }
            }
            // A base naming an earlier stage (BuildKit looks only backwards).
            std::string lname = ascii_lower(st.base);
            for (const auto& s : plan_.stages) {
                if (!s.name.empty() && s.name == lname)
                    st.base_stage = s.index;
            }
            plan_.stages.push_back(std::move(st));
        }
    }

    std::string stage_display_name(int i) const {
        const Stage& s = plan_.stages[static_cast<size_t>(i)];
        return s.name.empty() ? "stage-" + std::to_string(i) : s.name;
    }

    // Resolves COPY --from / mount from= to a stage: index, or -1 for an image.
    // Throws for a bad index and for a stage that is not before `current`.
    int resolve_from(const Node& node, const std::string& from, int current, bool mount,
                     const std::string& target = "") const {
        int index = -1;
        bool numeric =
            !from.empty() &&
            all_of_chars(from[0] == '-' || from[0] == '+' ? from.substr(1) : from, "0123456789");
        if (numeric) {
            long long n = 0;
            try {
                n = std::stoll(from);
            } catch (const std::exception&) {
                n = -1;
            }
            if (n < 0 || n >= static_cast<long long>(plan_.stages.size()))
                fail(node, "invalid stage index " + from);
            index = static_cast<int>(n);
        } else {
            std::string l = ascii_lower(from);
            for (const auto& s : plan_.stages) {
                if (!s.name.empty() && s.name == l)
                    index = s.index;
            }
            if (index < 0)
                return -1;
        }
        if (index == current)
            fail(node, "circular dependency detected on stage: " + stage_display_name(current));
        if (index > current) {
            if (mount)
                fail(node, "cannot mount from stage " + go_quote(from) + " to " + go_quote(target) +
                               ", stage needs to be defined before current "
                               "command");
            fail(node, "cannot copy from stage " + go_quote(from) +
                           ", it needs to be defined before current stage " +
                           go_quote(stage_display_name(current)));
        }
        return index;
    }

    // Dependencies of one instruction on other stages (COPY --from, RUN --mount from=).
    void node_deps(const Node& node, int current, std::set<int>& deps) const {
        for (const std::string& f : node.flags) {
            std::string body = f.substr(2);
            auto eq = body.find('=');
            if (eq == std::string::npos)
                continue;
            std::string name = ascii_lower(body.substr(0, eq));
            std::string value = body.substr(eq + 1);
            if (name == "from" && (node.keyword == "copy" || node.keyword == "add") &&
                !value.empty()) {
                if (!is_stage_ref(value))
                    continue;
                int idx = resolve_from(node, value, current, false);
                if (idx >= 0)
                    deps.insert(idx);
            } else if (name == "mount" && node.keyword == "run") {
                std::string from = mount_from_raw(value);
                if (!from.empty() && is_stage_ref(from)) {
                    int idx = resolve_from(node, from, current, true, "");
                    if (idx >= 0)
                        deps.insert(idx);
                }
            }
        }
    }

    bool is_stage_ref(const std::string& from) const {
        if (all_of_chars(from, "0123456789"))
            return true;
        std::string l = ascii_lower(from);
        return std::any_of(plan_.stages.begin(), plan_.stages.end(),
                           [&](const Stage& s) { return !s.name.empty() && s.name == l; });
    }

    // Self references are cycles for every stage (BuildKit checks the whole graph);
    // references to later stages are errors only for stages that are lowered.
    void graph() {
        for (size_t i = 0; i < raw_.size(); ++i) {
            std::set<int> deps;
            int cur = static_cast<int>(i);
            Stage& st = plan_.stages[i];
            if (st.base_stage >= 0)
                deps.insert(st.base_stage);
            for (const Node* n : raw_[i].nodes) {
                try {
                    node_deps(*n, cur, deps);
                } catch (const DockerfileError& e) {
                    if (e.message().starts_with("circular") ||
                        e.message().starts_with("invalid stage index"))
                        throw;
                    later_ref_errors_.emplace(cur, e);
                }
            }
            for (const auto& trig : trigger_nodes(cur))
                node_deps(*trig, cur, deps);
            st.deps.assign(deps.begin(), deps.end());
        }
    }

    // The ONBUILD triggers a stage runs first: its base stage's ONBUILD
    // instructions, or those its base image carries.
    std::vector<std::shared_ptr<const Node>> trigger_nodes(int i) {
        if (auto it = triggers_.find(i); it != triggers_.end())
            return it->second;
        std::vector<std::shared_ptr<const Node>> out;
        const Stage& st = plan_.stages[static_cast<size_t>(i)];
        const Node& from = *raw_[static_cast<size_t>(i)].from;
        if (st.base_stage >= 0) {
            for (const Node* n : raw_[static_cast<size_t>(st.base_stage)].nodes) {
                if (n->keyword != "onbuild" || !n->onbuild)
                    continue;
                auto copy = std::make_shared<Node>(*n->onbuild);
                if (copy->heredocs.empty())
                    copy->heredocs = n->heredocs;
                copy->start_line = from.start_line;
                copy->end_line = from.end_line;
                out.push_back(std::move(copy));
            }
        } else if (ascii_lower(st.base) != "scratch" && opt_.onbuild_triggers) {
            for (const std::string& text : opt_.onbuild_triggers(st.base, st.platform)) {
                ParseResult pr;
                try {
                    pr = parse_dockerfile(text, opt_.filename);
                    check_instruction_names(pr, opt_.filename);
                } catch (const DockerfileError& e) {
                    fail(from, e.message());
                }
                if (pr.children.size() != 1)
                    fail(from, "onbuild trigger should be a single expression");
                auto node = std::make_shared<Node>(pr.children[0]);
                node->start_line = from.start_line;
                node->end_line = from.end_line;
                out.push_back(std::move(node));
            }
        }
        for (const auto& n : out) {
            if (n->keyword == "onbuild")
                fail(from, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
            if (n->keyword == "from" || n->keyword == "maintainer")
                fail(from, ascii_upper(n->keyword) + " isn't allowed as an ONBUILD trigger");
        }
        triggers_[i] = out;
        return out;
    }

    void choose_target() {
        if (opt_.target.empty()) {
            plan_.target = static_cast<int>(plan_.stages.size()) - 1;
            return;
        }
        std::string want = ascii_lower(opt_.target);
        for (const auto& s : plan_.stages) {
            if (!s.name.empty() && s.name == want) {
                plan_.target = s.index;
                return;
            }
        }
        throw DockerfileError(opt_.filename, 0,
                              "target stage " + go_quote(opt_.target) + " could not be found");
    }

    void compute_needed() {
        std::vector<int> todo = {plan_.target};
        while (!todo.empty()) {
            int i = todo.back();
            todo.pop_back();
            if (!needed_.insert(i).second)
                continue;
            for (int d : plan_.stages[static_cast<size_t>(i)].deps)
                todo.push_back(d);
        }
    }

    // --- pass 2: the steps of a stage ------------------------------------------------------------

    void lower_stage(int i) {
        if (auto it = later_ref_errors_.find(i); it != later_ref_errors_.end())
            throw it->second;
        cur_ = i;
        Stage& st = stage();
        StageState ss;
        if (st.base_stage >= 0) {
            const Stage& base = plan_.stages[static_cast<size_t>(st.base_stage)];
            const StageState& bs = states_[st.base_stage];
            st.settings = base.settings;
            st.settings.on_build.clear();
            ss.env = bs.env;
            ss.build_args = bs.build_args;
            ss.env_known = bs.env_known;
        } else if (ascii_lower(st.base) == "scratch") {
            st.settings.set_env("PATH", kDefaultPath);
            ss.env.set("PATH", kDefaultPath);
        } else {
            std::optional<ImageSettings> base;
            if (opt_.image_settings)
                base = opt_.image_settings(st.base, st.platform);
            ss.env_known = base.has_value();
            if (base) {
                st.settings = *base;
                st.settings.on_build.clear();  // triggers run here, they are not inherited
                for (const auto& [k, v] : base->env)
                    ss.env.set(k, v);
            }
            if (!ss.env.get("PATH")) {
                st.settings.set_env("PATH", kDefaultPath);
                ss.env.set("PATH", kDefaultPath);
            }
        }
        states_[i] = std::move(ss);
        for (const auto& trig : trigger_nodes(i))
            dispatch(*trig, true);
        for (const Node* n : raw_[static_cast<size_t>(i)].nodes)
            dispatch(*n, false);
        state().lowered = true;
    }

    Stage& stage() { return plan_.stages[static_cast<size_t>(cur_)]; }
    StageState& state() { return states_[cur_]; }

    // Expands one word with the stage environment, reporting UndefinedVar.
    std::string expand(const Node& node, std::string_view word, bool report = true) {
        return expand_with(lex_, node, word, report);
    }

    std::string expand_with(const ShellLex& lex, const Node& node, std::string_view word,
                            bool report) {
        ProcessWordResult r;
        try {
            r = lex.process_word_with_matches(word, state().env);
        } catch (const ExpansionError& e) {
            fail(node, e.what());
        }
        if (report)
            report_unmatched(node, r.unmatched);
        return r.result;
    }

    void report_unmatched(const Node& node, const std::set<std::string>& unmatched) {
        if (!opt_.linter || !state().env_known)
            return;
        std::vector<std::string> keys;
        for (const auto& [k, v] : state().env.entries())
            keys.push_back(k);
        for (const auto& name : unmatched) {
            bool declared = std::any_of(state().build_args.begin(), state().build_args.end(),
                                        [&](const auto& a) { return a.first == name; });
            if (declared)
                continue;
            std::string msg = "Usage of undefined variable '$" + name + "'";
            if (auto s = suggest(name, keys); !s.empty())
                msg += " (did you mean $" + s + "?)";
            lint("UndefinedVar", node.start_line, msg);
        }
    }

    void check_secret_key(const Node& node, const std::string& key) {
        static const std::vector<std::string> deny = {
            "apikey",   "auth",  "credential", "credentials", "key",
            "password", "pword", "passwd",     "secret",      "token"};
        auto has_token = [&](const std::vector<std::string>& tokens) {
            std::string l = ascii_lower(key);
            std::vector<std::string> parts;
            std::stringstream ss(l);
            std::string part;
            while (std::getline(ss, part, '_'))
                parts.push_back(part);
            if (!l.empty() && l.back() == '_')
                parts.push_back("");
            if (parts.empty())
                return false;
            // The regexp (?:_|^)(token)(?:_|$) matches a whole '_'-separated word.
            for (const auto& t : tokens) {
                if (std::find(parts.begin(), parts.end(), t) != parts.end())
                    return true;
            }
            return false;
        };
        if (has_token(deny) && !has_token({"public"}))
            lint("SecretsUsedInArgOrEnv", node.start_line,
                 "Do not use ARG or ENV instructions for sensitive data (" +
                     ascii_upper(node.keyword) + " " + go_quote(key) + ")");
    }

    Flags parse_flags(const Node& node, std::initializer_list<FlagSpec> allowed) const {
        Flags out;
        for (const std::string& f : node.flags) {
            std::string body = f.substr(2);
            auto eq = body.find('=');
            std::string name = body.substr(0, eq);
            bool has_value = eq != std::string::npos;
            std::string value = has_value ? body.substr(eq + 1) : "";
            const FlagSpec* spec = nullptr;
            for (const auto& a : allowed) {
                if (name == a.name)
                    spec = &a;
            }
            if (!spec)
                fail(node, "unknown flag: " + name);
            switch (spec->type) {
                case FlagSpec::Type::boolean: {
                    if (out.boolean.count(name))
                        fail(node, "duplicate flag specified: " + name);
                    bool v = true;
                    if (has_value) {
                        auto b = parse_bool(value);
                        if (!b)
                            fail(node,
                                 "expecting boolean value for flag " + name + ", not: " + value);
                        v = *b;
                    }
                    out.boolean[name] = v;
                    break;
                }
                case FlagSpec::Type::string:
                    if (!has_value)
                        fail(node, "missing a value on flag: " + name);
                    if (out.str.count(name))
                        fail(node, "duplicate flag specified: " + name);
                    out.str[name] = value;
                    break;
                case FlagSpec::Type::multi:
                    if (!has_value)
                        fail(node, "missing a value on flag: " + name);
                    out.multi[name].push_back(value);
                    break;
            }
        }
        return out;
    }

    void dispatch(const Node& node, bool onbuild) {
        onbuild_ = onbuild;
        const std::string& kw = node.keyword;
        if (kw == "env")
            return env(node);
        if (kw == "label")
            return label(node);
        if (kw == "arg")
            return arg(node);
        if (kw == "workdir")
            return workdir(node);
        if (kw == "user")
            return user(node);
        if (kw == "stopsignal")
            return stopsignal(node);
        if (kw == "maintainer")
            return maintainer(node);
        if (kw == "expose")
            return expose(node);
        if (kw == "volume")
            return volume(node);
        if (kw == "cmd")
            return cmd_or_entrypoint(node, true);
        if (kw == "entrypoint")
            return cmd_or_entrypoint(node, false);
        if (kw == "shell")
            return shell(node);
        if (kw == "healthcheck")
            return healthcheck(node);
        if (kw == "onbuild")
            return onbuild_instruction(node);
        if (kw == "copy" || kw == "add")
            return copy(node, kw == "add");
        if (kw == "run")
            return run(node);
        if (kw == "from")
            fail(node, "FROM isn't allowed as an ONBUILD trigger");
        fail(node, "unknown instruction: " + ascii_upper(kw));
    }

    Step& add_step(const Node& node, Step::Kind kind, std::string created_by) {
        Step s;
        s.kind = kind;
        s.keyword = ascii_upper(node.keyword);
        s.text = (onbuild_ ? "ONBUILD " : "") + node.original;
        s.created_by = std::move(created_by);
        s.line = node.start_line;
        s.env = state().env.entries();
        s.user = stage().settings.user;
        s.workdir_in_effect =
            stage().settings.working_dir.empty() ? "/" : stage().settings.working_dir;
        stage().steps.push_back(std::move(s));
        return stage().steps.back();
    }

    void env(const Node& node) {
        parse_flags(node, {});
        if (node.args.size() < 2)
            fail(node, "ENV requires at least one argument");
        // Every pair sees the environment from before this instruction, as in
        // BuildKit: "ENV a=1 b=$a" gives b the old value of a.
        std::vector<std::pair<std::string, std::string>> pairs;
        for (size_t i = 0; i + 1 < node.args.size(); i += 3) {
            std::string key = expand(node, node.args[i]);
            std::string value = expand(node, node.args[i + 1]);
            if (key.empty())
                fail(node, "ENV names can not be blank");
            pairs.emplace_back(key, value);
        }
        std::string msg = "ENV";
        for (const auto& [key, value] : pairs) {
            check_secret_key(node, key);
            stage().settings.set_env(key, value);
            state().env.set(key, value);
            msg += " " + key + "=" + value;
        }
        add_step(node, Step::Kind::metadata, msg);
    }

    void label(const Node& node) {
        parse_flags(node, {});
        std::string msg = "LABEL";
        std::vector<std::pair<std::string, std::string>> pairs;
        for (size_t i = 0; i + 1 < node.args.size(); i += 3) {
            std::string key = expand(node, node.args[i]);
            std::string value = expand(node, node.args[i + 1]);
            if (key.empty())
                fail(node, "LABEL names can not be blank");
            pairs.emplace_back(key, value);
        }
        for (const auto& [key, value] : pairs) {
            stage().settings.labels[key] = value;
            msg += " " + key + "=" + value;
        }
        add_step(node, Step::Kind::metadata, msg);
    }

    // BuildKit's dispatchArg.
    void arg(const Node& node) {
        std::vector<std::string> parts;
        for (auto& [name, def] : arg_words(node)) {
            check_secret_key(node, name);
            auto bit = opt_.build_args.find(name);
            bool has_value = bit != opt_.build_args.end();
            std::optional<std::string> value = def;
            if (!def && !has_value) {
                if (auto g = global_.get(name))
                    value = std::string(*g);
            }
            if (has_value) {
                value = bit->second;
                used_args_.insert(name);
            } else if (def) {
                value = expand(node, *def);
            }
            used_args_.insert(name);
            if (value)
                state().env.set(name, *value);
            state().build_args.emplace_back(name, value);
            parts.push_back(value ? name + "=" + *value : name);
        }
        add_step(node, Step::Kind::metadata, "ARG " + join(parts, " "));
    }

    void workdir(const Node& node) {
        parse_flags(node, {});
        if (node.args.size() != 1 || node.args[0].empty())
            fail(node, "WORKDIR requires exactly one argument");
        std::string dir = expand(node, node.args[0]);
        std::string path = join_path(stage().settings.working_dir, dir);
        Step& s = add_step(node, Step::Kind::workdir, "WORKDIR " + path);
        s.workdir = path;
        stage().settings.working_dir = path;
    }

    void user(const Node& node) {
        parse_flags(node, {});
        if (node.args.size() != 1 || node.args[0].empty())
            fail(node, "USER requires exactly one argument");
        stage().settings.user = expand(node, node.args[0]);
        add_step(node, Step::Kind::metadata, "USER " + stage().settings.user);
    }

    void stopsignal(const Node& node) {
        parse_flags(node, {});
        if (node.args.size() != 1 || node.args[0].empty())
            fail(node, "STOPSIGNAL requires exactly one argument");
        stage().settings.stop_signal = expand(node, node.args[0]);
        add_step(node, Step::Kind::metadata, "STOPSIGNAL " + stage().settings.stop_signal);
    }

    void maintainer(const Node& node) {
        parse_flags(node, {});
        if (node.args.size() != 1)
            fail(node, "MAINTAINER requires exactly one argument");
        stage().settings.maintainer = node.args[0];
        add_step(node, Step::Kind::metadata, "MAINTAINER " + node.args[0]);
    }

    void expose(const Node& node) {
        parse_flags(node, {});
        if (node.args.empty())
            fail(node, "EXPOSE requires at least one argument");
        std::set<std::string> mine;
        for (const auto& raw : node.args) {
            std::vector<std::string> specs;
            try {
                specs = lex_.process_words(raw, state().env);
            } catch (const ExpansionError& e) {
                fail(node, e.what());
            }
            for (const auto& spec : specs) {
                std::string proto = "tcp";
                auto slash = spec.find('/');
                std::string ports = spec.substr(0, slash);
                if (slash != std::string::npos)
                    proto = ascii_lower(spec.substr(slash + 1));
                if (proto != "tcp" && proto != "udp" && proto != "sctp")
                    fail(node, "invalid proto: " + proto);
                auto dash = ports.find('-');
                try {
                    size_t used = 0;
                    int lo = std::stoi(ports.substr(0, dash), &used);
                    if (used != ports.substr(0, dash).size())
                        throw std::invalid_argument("port");
                    int hi = lo;
                    if (dash != std::string::npos)
                        hi = std::stoi(ports.substr(dash + 1));
                    if (lo < 0 || hi > 65535 || hi < lo)
                        throw std::invalid_argument("range");
                    for (int p = lo; p <= hi; ++p)
                        mine.insert(std::to_string(p) + "/" + proto);
                } catch (const std::exception&) {
                    fail(node, "invalid containerPort: " + ports);
                }
            }
        }
        stage().settings.exposed_ports.insert(mine.begin(), mine.end());
        // Go prints map keys sorted as strings, like std::set does.
        std::string msg = "EXPOSE map[";
        bool first = true;
        for (const auto& p : mine) {
            msg += (first ? "" : " ") + p + ":{}";
            first = false;
        }
        add_step(node, Step::Kind::metadata, msg + "]");
    }

    void volume(const Node& node) {
        parse_flags(node, {});
        if (node.args.empty())
            fail(node, "VOLUME requires at least one argument");
        std::vector<std::string> vols;
        for (const auto& raw : node.args) {
            std::string v = expand(node, raw);
            if (v.empty())
                fail(node, "VOLUME specified can not be an empty string");
            vols.push_back(v);
        }
        for (const auto& v : vols)
            stage().settings.volumes.insert(v);
        add_step(node, Step::Kind::metadata, "VOLUME [" + join(vols, " ") + "]");
    }

    std::vector<std::string> shell_words() const {
        const auto& sh = plan_.stages[static_cast<size_t>(cur_)].settings.shell;
        if (sh && !sh->empty())
            return *sh;
        return {"/bin/sh", "-c"};
    }

    void cmd_or_entrypoint(const Node& node, bool is_cmd) {
        parse_flags(node, {});
        std::vector<std::string> words;
        if (node.json_form) {
            words = node.args;
        } else if (!node.args.empty()) {
            words = shell_words();
            words.push_back(node.args[0]);
        }
        if (is_cmd) {
            stage().settings.cmd = words;
            stage().settings.args_escaped = true;
            state().cmd_set = true;
            add_step(node, Step::Kind::metadata, "CMD " + go_quote_list(words));
        } else {
            stage().settings.entrypoint = words;
            // An ENTRYPOINT drops a CMD inherited from the base, not one set in this stage.
            if (!state().cmd_set)
                stage().settings.cmd.reset();
            add_step(node, Step::Kind::metadata, "ENTRYPOINT " + go_quote_list(words));
        }
    }

    void shell(const Node& node) {
        parse_flags(node, {});
        if (!node.json_form)
            fail(node, "SHELL requires the arguments to be in JSON form");
        if (node.args.empty())
            fail(node, "SHELL requires at least one argument");
        stage().settings.shell = node.args;
        add_step(node, Step::Kind::metadata, "SHELL [" + join(node.args, " ") + "]");
    }

    void healthcheck(const Node& node) {
        auto fl = parse_flags(node, {{"interval", FlagSpec::Type::string},
                                     {"timeout", FlagSpec::Type::string},
                                     {"start-period", FlagSpec::Type::string},
                                     {"start-interval", FlagSpec::Type::string},
                                     {"retries", FlagSpec::Type::string}});
        if (node.args.empty())
            fail(node, "HEALTHCHECK requires an argument");
        ImageSettings::Healthcheck hc;
        std::string type = ascii_upper(node.args[0]);
        if (type == "NONE") {
            if (node.args.size() > 1 || !node.flags.empty())
                fail(node, "HEALTHCHECK NONE takes no arguments");
            hc.test = {"NONE"};
        } else if (type == "CMD") {
            if (node.args.size() < 2)
                fail(node, "Missing command after HEALTHCHECK CMD");
            if (node.json_form) {
                hc.test = {"CMD"};
                hc.test.insert(hc.test.end(), node.args.begin() + 1, node.args.end());
            } else {
                hc.test = {"CMD-SHELL", node.args[1]};
            }
        } else {
            fail(node, "Unknown type \"" + type + "\" in HEALTHCHECK (try CMD)");
        }
        for (const auto& [name, value] : fl.str) {
            if (name == "retries") {
                try {
                    size_t used = 0;
                    hc.retries = std::stoi(value, &used);
                    if (used != value.size())
                        throw std::invalid_argument("retries");
                } catch (const std::exception&) {
                    fail(node, "invalid --retries value: " + value);
                }
                if (hc.retries < 0)
                    fail(node, "--retries cannot be negative (" + value + ")");
                continue;
            }
            long long ns = parse_duration(value);
            if (ns < 0)
                fail(node, "invalid --" + name + " value: " + value);
            if (ns != 0 && ns < 1'000'000)
                fail(node, "Interval \"" + name + "\" cannot be less than 1ms");
            if (name == "interval")
                hc.interval_ns = ns;
            if (name == "timeout")
                hc.timeout_ns = ns;
            if (name == "start-period")
                hc.start_period_ns = ns;
            if (name == "start-interval")
                hc.start_interval_ns = ns;
        }
        stage().settings.healthcheck = hc;
        add_step(node, Step::Kind::metadata, "HEALTHCHECK " + go_quote_list(hc.test));
    }

    // ONBUILD records the trigger in the image config; BuildKit writes no history.
    void onbuild_instruction(const Node& node) {
        if (!node.onbuild)
            fail(node, "ONBUILD requires at least one argument");
        const std::string& kw = node.onbuild->keyword;
        if (kw == "onbuild")
            fail(node, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (kw == "from" || kw == "maintainer")
            fail(node, ascii_upper(kw) + " isn't allowed as an ONBUILD trigger");
        std::string text = node.original;
        auto pos = ascii_lower(text).find("onbuild");
        text = text.substr(pos + 7);
        text.erase(0, text.find_first_not_of(" \t"));
        stage().settings.on_build.push_back(text);
    }

    // --- RUN -------------------------------------------------------------------------------------

    MountSpec parse_mount(const Node& node, const std::string& value, int ssh_index) {
        auto fields = csv_fields(value);
        if (!fields)
            fail(node, "failed to parse mount " + value);
        MountSpec m;
        bool ro_auto = true;
        bool has_mode = false, has_uid = false, has_gid = false;
        for (const std::string& field : *fields) {
            auto eq = field.find('=');
            std::string key = ascii_lower(field.substr(0, eq));
            if (eq == std::string::npos) {
                if (key == "readonly" || key == "ro") {
                    m.readonly = true;
                    ro_auto = false;
                    continue;
                }
                if (key == "readwrite" || key == "rw") {
                    m.readonly = false;
                    ro_auto = false;
                    continue;
                }
                if (key == "required") {
                    if (m.type != "secret" && m.type != "ssh")
                        fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
                    m.required = true;
                    continue;
                }
                fail(node, "invalid field '" + field + "' must be a key=value pair");
            }
            std::string v = expand(node, field.substr(eq + 1));
            if (key == "type") {
                std::string t = ascii_lower(v);
                if (t != "bind" && t != "cache" && t != "tmpfs" && t != "secret" && t != "ssh")
                    fail(node, "unsupported mount type " + go_quote(v));
                m.type = t;
            } else if (key == "from") {
                m.from = v;
            } else if (key == "source" || key == "src") {
                m.source = v;
            } else if (key == "target" || key == "dst" || key == "destination") {
                m.target = v;
            } else if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw") {
                auto b = parse_bool(v);
                if (!b)
                    fail(node, "invalid value for " + key + ": " + v);
                m.readonly = (key == "readonly" || key == "ro") ? *b : !*b;
                ro_auto = false;
            } else if (key == "required") {
                if (m.type != "secret" && m.type != "ssh")
                    fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
                auto b = parse_bool(v);
                if (!b)
                    fail(node, "invalid value for " + key + ": " + v);
                m.required = *b;
            } else if (key == "id") {
                m.id = v;
            } else if (key == "sharing") {
                std::string s = ascii_lower(v);
                if (!s.empty() && s != "shared" && s != "private" && s != "locked")
                    fail(node, "unsupported sharing value " + go_quote(v));
                m.sharing = s;
            } else if (key == "mode") {
                if (!all_of_chars(v, "01234567") || v.size() > 11)
                    fail(node, "invalid value " + v + " for mode");
                m.mode = v;
                has_mode = true;
            } else if (key == "uid" || key == "gid") {
                if (!all_of_chars(v, "0123456789") || v.size() > 10 ||
                    std::stoull(v) > 0xffffffffULL)
                    fail(node, "invalid value " + v + " for " + key);
                (key == "uid" ? m.uid : m.gid) = v;
                (key == "uid" ? has_uid : has_gid) = true;
            } else if (key == "env") {
                m.env = v;
            } else if (key == "size") {
                if (m.type != "tmpfs")
                    fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
                m.size = v;
            } else {
                fail(node, "unexpected key '" + key + "' in '" + field + "'");
            }
        }
        bool file_info = m.type == "secret" || m.type == "ssh" || m.type == "cache";
        if (!file_info) {
            if (has_mode)
                fail(node, "mode not allowed for " + go_quote(m.type) + " type mounts");
            if (has_uid)
                fail(node, "uid not allowed for " + go_quote(m.type) + " type mounts");
            if (has_gid)
                fail(node, "gid not allowed for " + go_quote(m.type) + " type mounts");
        }
        if (ro_auto)
            m.readonly = !(m.type == "cache" || m.type == "tmpfs");
        if (!m.sharing.empty() && m.type != "cache")
            fail(node, "invalid cache sharing set for " + m.type + " mount");
        if (m.type == "secret") {
            if (!m.from.empty())
                fail(node, "secret mount should not have a from");
            if (m.source.empty() && m.target.empty() && m.id.empty() && m.env.empty())
                fail(node, "invalid secret mount. one of source, target required");
            if (!m.source.empty() && !m.id.empty())
                fail(node, "both source and id can't be set");
            if (m.id.empty())
                m.id = !m.source.empty()
                           ? m.source
                           : (!m.target.empty() ? m.target.substr(m.target.rfind('/') + 1) : m.env);
            if (m.target.empty() && m.env.empty())
                m.target = "/run/secrets/" + m.id;
        }
        if (m.type == "ssh") {
            if (m.id.empty())
                m.id = "default";
            if (m.target.empty())
                m.target = "/run/buildkit/ssh_agent." + std::to_string(ssh_index);
        }
        if (!m.target.empty() || (m.type != "secret" && m.type != "ssh")) {
            std::string target = join_path(stage().settings.working_dir, m.target);
            if (target == "/")
                fail(node, "invalid mount target " + go_quote(target));
            m.target = target;
        }
        if (m.type == "cache") {
            if (m.id.empty())
                m.id = m.target;
            if (m.sharing.empty())
                m.sharing = "shared";
        }
        if (!m.from.empty()) {
            int idx = is_stage_ref(m.from) ? resolve_from(node, m.from, cur_, true, m.target) : -1;
            if (idx >= 0) {
                m.from_stage = idx;
                auto& deps = stage().deps;
                if (std::find(deps.begin(), deps.end(), idx) == deps.end()) {
                    deps.push_back(idx);
                    std::sort(deps.begin(), deps.end());
                }
            } else {
                m.from_image = m.from;
            }
        }
        return m;
    }

    void run(const Node& node) {
        auto fl = parse_flags(node, {{"mount", FlagSpec::Type::multi},
                                     {"network", FlagSpec::Type::string},
                                     {"security", FlagSpec::Type::string}});
        if (node.args.empty() || (!node.json_form && node.args[0].empty() && node.heredocs.empty()))
            fail(node, "RUN requires at least one argument");
        RunSpec spec;
        int ssh_index = 0;
        for (const auto& v : fl.all("mount")) {
            MountSpec m = parse_mount(node, v, ssh_index);
            if (m.type == "ssh")
                ++ssh_index;
            spec.mounts.push_back(std::move(m));
        }
        if (fl.str.count("network")) {
            std::string n = ascii_lower(fl.get("network"));
            if (n != "default" && n != "none" && n != "host")
                fail(node, "unsupported network mode " + go_quote(fl.get("network")));
            spec.network = n == "default" ? "" : n;
        }
        if (fl.str.count("security")) {
            std::string s = ascii_lower(fl.get("security"));
            if (s != "sandbox" && s != "insecure")
                fail(node, "unsupported security mode " + go_quote(fl.get("security")));
            spec.security = s;
        }
        for (const Heredoc& h : node.heredocs) {
            spec.heredocs.push_back(
                {h.name, h.chomp_tabs ? chomp_heredoc_content(h.content) : h.content});
        }
        if (node.json_form) {
            spec.args = node.args;
            spec.shell_form = false;
        } else if (!node.heredocs.empty()) {
            std::string line = node.args[0];
            std::string trimmed = line;
            trimmed.erase(trimmed.find_last_not_of(" \t") + 1);
            std::optional<Heredoc> whole;
            try {
                whole = parse_heredoc(trimmed);
            } catch (const DockerfileError&) {
                whole.reset();
            }
            if (whole) {
                const HeredocFile& f = spec.heredocs.front();
                if (f.content.starts_with("#!")) {
                    spec.heredoc_script = true;
                    spec.shell_form = false;
                    spec.args = {"/dev/pipes/" + f.name};
                } else {
                    spec.args = shell_words();
                    spec.args.push_back(f.content);
                }
            } else {
                std::string full = line;
                for (const Heredoc& h : node.heredocs)
                    full += "\n" + h.content + h.name;
                spec.args = shell_words();
                spec.args.push_back(full);
            }
        } else {
            spec.args = shell_words();
            spec.args.push_back(node.args[0]);
        }
        // Declared ARGs as BuildKit's runCommandString lists them, then proxies.
        std::vector<std::string> hist;
        std::map<std::string, size_t> idx;
        for (const auto& [name, value] : state().build_args) {
            std::string v = std::string(state().env.get(name).value_or(value.value_or("")));
            if (auto it = idx.find(name); it != idx.end()) {
                spec.build_args[it->second].second = v;
                hist[it->second] = name + "=" + v;
            } else {
                idx[name] = spec.build_args.size();
                spec.build_args.emplace_back(name, v);
                hist.push_back(name + "=" + v);
            }
        }
        for (const auto& name : proxy_args()) {
            auto it = opt_.build_args.find(name);
            if (it != opt_.build_args.end() && !idx.count(name))
                spec.build_args.emplace_back(name, it->second);
        }
        std::string msg = "RUN ";
        if (!hist.empty())
            msg += "|" + std::to_string(hist.size()) + " " + join(hist, " ") + " ";
        msg += join(spec.args, " ") + " # buildkit";
        Step& s = add_step(node, Step::Kind::run, msg);
        s.run = std::move(spec);
    }

    // --- COPY / ADD ------------------------------------------------------------------------------

    static bool valid_chmod(const std::string& v) {
        if (all_of_chars(v, "0123456789"))
            return all_of_chars(v, "01234567") && v.size() <= 12 &&
                   std::stoull(v, nullptr, 8) <= 07777;
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

    static bool valid_digest(const std::string& d) {
        auto colon = d.find(':');
        if (colon == std::string::npos)
            return false;
        std::string algo = d.substr(0, colon), hex = d.substr(colon + 1);
        size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
        return want != 0 && hex.size() == want && all_of_chars(hex, "0123456789abcdef");
    }

    void copy(const Node& node, bool is_add) {
        const char* name = is_add ? "ADD" : "COPY";
        Flags fl = is_add ? parse_flags(node, {{"chown", FlagSpec::Type::string},
                                               {"chmod", FlagSpec::Type::string},
                                               {"link", FlagSpec::Type::boolean},
                                               {"keep-git-dir", FlagSpec::Type::boolean},
                                               {"checksum", FlagSpec::Type::string},
                                               {"unpack", FlagSpec::Type::boolean},
                                               {"exclude", FlagSpec::Type::multi}})
                          : parse_flags(node, {{"from", FlagSpec::Type::string},
                                               {"chown", FlagSpec::Type::string},
                                               {"chmod", FlagSpec::Type::string},
                                               {"link", FlagSpec::Type::boolean},
                                               {"parents", FlagSpec::Type::boolean},
                                               {"exclude", FlagSpec::Type::multi}});
        if (node.args.size() < 2)
            fail(node, std::string(name) +
                           " requires at least two arguments, but only one was provided. "
                           "Destination could not be determined");
        CopySpec spec;
        spec.is_add = is_add;
        spec.link = fl.on("link");
        spec.parents = fl.on("parents");
        spec.keep_git_dir = fl.on("keep-git-dir");
        if (fl.boolean.count("unpack")) {
            spec.unpack = fl.on("unpack");
            spec.unpack_set = true;
        }
        spec.chown = expand(node, fl.get("chown"));
        spec.chmod = expand(node, fl.get("chmod"));
        if (!spec.chmod.empty() && !valid_chmod(spec.chmod))
            fail(node, "invalid chmod parameter: '" + spec.chmod +
                           "'. it should be octal string and between 0 and 07777");
        for (const auto& e : fl.all("exclude"))
            spec.excludes.push_back(expand(node, e));
        spec.checksum = expand(node, fl.get("checksum"));

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
            fail(node, std::string(name) + " cannot accept a heredoc as a destination");
        std::vector<std::string> sources;
        for (size_t i = 0; i + 1 < node.args.size(); ++i) {
            if (auto h = heredoc_word(node.args[i])) {
                auto it = docs.find(h->name);
                std::string content = it == docs.end() ? "" : it->second->content;
                if (h->chomp_tabs)
                    content = chomp_heredoc_content(content);
                if (h->expand)
                    content = expand_with(*raw_lex_, node, content, true);
                spec.heredocs.push_back({h->name, content});
                continue;
            }
            // An empty source names the context root, as BuildKit's NormalizePath does.
            sources.push_back(expand(node, node.args[i]));
        }
        std::string dest = expand(node, node.args.back());

        if (fl.str.count("from")) {
            spec.from = fl.get("from");
            int idx = is_stage_ref(spec.from) ? resolve_from(node, spec.from, cur_, false) : -1;
            if (idx >= 0) {
                spec.from_stage = idx;
                auto& deps = stage().deps;
                if (std::find(deps.begin(), deps.end(), idx) == deps.end()) {
                    deps.push_back(idx);
                    std::sort(deps.begin(), deps.end());
                }
            } else {
                spec.from_image = spec.from;
            }
        }
        if (!spec.checksum.empty()) {
            if (sources.size() + spec.heredocs.size() != 1)
                fail(node, "checksum can't be specified for multiple sources");
            if (sources.empty() || !is_http_source(sources[0]))
                fail(node, "checksum can't be specified for non-HTTP(S) sources");
            if (!valid_digest(spec.checksum))
                fail(node, "invalid checksum digest format");
        }
        for (const auto& src : sources) {
            if (is_git_ref(src)) {
                if (!is_add)
                    fail(node, "source can't be a git ref for COPY");
                continue;
            }
            if (is_http_source(src)) {
                if (!is_add)
                    fail(node, "source can't be a URL for COPY");
                continue;
            }
            if (ignore_ && spec.from.empty()) {
                bool ignored = false;
                try {
                    ignored = ignore_->matches(src);
                } catch (const PatternError&) {
                    ignored = false;
                }
                if (ignored)
                    lint("CopyIgnoredFile", node.start_line,
                         std::string("Attempting to ") + (is_add ? "Add" : "Copy") + " file " +
                             go_quote(src) + " that is excluded by .dockerignore");
            }
        }
        spec.sources = sources;
        spec.dest_is_dir = dest.empty() || dest.ends_with('/') || dest == "." ||
                           dest.ends_with("/.") || sources.size() + spec.heredocs.size() > 1;
        spec.dest = join_path(stage().settings.working_dir, dest);

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

    const ParseResult& parsed_;
    const LowerOptions& opt_;
    ShellLex lex_;
    std::unique_ptr<ShellLex> raw_lex_;
    std::unique_ptr<PatternMatcher> ignore_;
    BuildPlan plan_;
    std::vector<StagePlan> raw_;
    std::vector<const Node*> global_arg_nodes_;
    Environment defaults_;  // predefined platform args
    Environment global_;    // what FROM lines see
    std::set<std::string> global_declared_;
    std::map<int, StageState> states_;
    std::map<int, std::vector<std::shared_ptr<const Node>>> triggers_;
    std::map<int, DockerfileError> later_ref_errors_;
    std::set<int> needed_;
    std::set<std::string> used_args_;
    int cur_ = 0;
    bool onbuild_ = false;
};

}  // namespace

void ImageSettings::set_env(const std::string& name, const std::string& value) {
    for (auto& [k, v] : env) {
        if (k == name) {
            v = value;
            return;
        }
    }
    env.emplace_back(name, value);
}

BuildPlan lower(const ParseResult& parsed, const LowerOptions& options) {
    return Lowerer(parsed, options).run();
}

std::string host_architecture() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64")
        return "amd64";
    if (m == "aarch64")
        return "arm64";
    if (m.starts_with("armv7"))
        return "arm";
    if (m == "i686" || m == "i386")
        return "386";
    return m;
}

}  // namespace kiln::frontend
