#include "frontend/lower.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "frontend/shell_lex.h"

namespace kiln::frontend {

namespace {

const char* const kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string upper(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string lower_ascii(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
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
        double value = std::stod(s.substr(start, i - start));
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

struct Flag {
    std::string name;
    std::string value;
    bool has_value = false;
};

class Lowerer {
  public:
    Lowerer(const ParseResult& parsed, const LowerOptions& opt)
        : parsed_(parsed), opt_(opt), lex_(parsed.escape) {}

    BuildPlan run() {
        predefined_args();
        for (const Node& node : parsed_.children) {
            if (plan_.stages.empty()) {
                if (node.keyword == "arg") {
                    global_arg(node);
                    continue;
                }
                if (node.keyword != "from")
                    fail(node, "no build stage in current context");
            }
            dispatch(node);
        }
        if (plan_.stages.empty())
            fail_line(0, "no build stage in current context");
        choose_target();
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

    static bool is_predefined(const std::string& name) {
        static const std::set<std::string> names = {
            "TARGETPLATFORM", "TARGETOS",    "TARGETARCH",   "TARGETVARIANT", "BUILDPLATFORM",
            "BUILDOS",        "BUILDARCH",   "BUILDVARIANT", "HTTP_PROXY",    "http_proxy",
            "HTTPS_PROXY",    "https_proxy", "FTP_PROXY",    "ftp_proxy",     "NO_PROXY",
            "no_proxy",       "ALL_PROXY",   "all_proxy"};
        return names.count(name) != 0;
    }

    void predefined_args() {
        std::string platform =
            opt_.os + "/" + opt_.arch + (opt_.variant.empty() ? "" : "/" + opt_.variant);
        for (const char* p : {"TARGET", "BUILD"}) {
            std::string pre = p;
            predefined_.set(pre + "PLATFORM", platform);
            predefined_.set(pre + "OS", opt_.os);
            predefined_.set(pre + "ARCH", opt_.arch);
            predefined_.set(pre + "VARIANT", opt_.variant);
        }
        // Predefined args are visible to FROM without a declaration, as in BuildKit.
        for (const auto& [k, v] : predefined_.entries())
            global_.set(k, v);
    }

    std::string expand(const Node& node, std::string_view word, const Environment& env) const {
        try {
            return lex_.process_word(word, env);
        } catch (const ExpansionError& e) {
            fail(node, e.what());
        }
    }

    Environment stage_env() const {
        Environment env;
        for (const auto& [k, v] : stage_args_.entries())
            env.set(k, v);
        // ENV wins over ARG of the same name.
        for (const auto& [k, v] : stage().settings.env)
            env.set(k, v);
        return env;
    }

    Stage& stage() { return plan_.stages.back(); }
    const Stage& stage() const { return plan_.stages.back(); }

    std::vector<Flag> flags(const Node& node, std::initializer_list<const char*> allowed) const {
        std::vector<Flag> out;
        for (const std::string& f : node.flags) {
            std::string body = f.substr(2);
            Flag flag;
            auto eq = body.find('=');
            flag.name = body.substr(0, eq);
            if (eq != std::string::npos) {
                flag.value = body.substr(eq + 1);
                flag.has_value = true;
            }
            if (std::find_if(allowed.begin(), allowed.end(),
                             [&](const char* a) { return flag.name == a; }) == allowed.end()) {
                fail(node, "unknown flag: " + flag.name);
            }
            out.push_back(flag);
        }
        return out;
    }

    // Parses "name[=value]" words of ARG.
    std::pair<std::string, std::optional<std::string>> arg_word(const Node& node,
                                                                const std::string& word,
                                                                const Environment& env) {
        auto eq = word.find('=');
        std::string name = word.substr(0, eq);
        if (name.empty())
            fail(node, "ARG requires a name");
        std::optional<std::string> value;
        if (eq != std::string::npos)
            value = expand(node, word.substr(eq + 1), env);
        if (auto it = opt_.build_args.find(name); it != opt_.build_args.end()) {
            value = it->second;
            used_args_.insert(name);
        }
        return {name, value};
    }

    void global_arg(const Node& node) {
        flags(node, {});
        if (node.args.empty())
            fail(node, "ARG requires at least one argument");
        for (const auto& word : node.args) {
            auto [name, value] = arg_word(node, word, global_);
            if (value) {
                global_.set(name, *value);
                global_declared_.set(name, *value);
            } else {
                global_declared_.erase(name);
                declared_unset_.insert(name);
            }
        }
    }

    void dispatch(const Node& node) {
        const std::string& kw = node.keyword;
        if (kw == "from")
            return from(node);
        if (kw == "env")
            return env(node);
        if (kw == "label")
            return label(node);
        if (kw == "arg")
            return arg(node);
        if (kw == "workdir")
            return workdir(node);
        if (kw == "user")
            return simple(node, stage().settings.user, "USER");
        if (kw == "stopsignal")
            return simple(node, stage().settings.stop_signal, "STOPSIGNAL");
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
            return onbuild(node);
        if (kw == "copy")
            return copy(node);
        if (kw == "run" || kw == "add") {
            fail(node, upper(kw) + " is not supported by this version of kiln yet");
        }
        fail(node, "unknown instruction: " + upper(kw));
    }

    Step& add_step(const Node& node, Step::Kind kind, std::string created_by) {
        Step s;
        s.kind = kind;
        s.keyword = upper(node.keyword);
        s.text = node.original;
        s.created_by = std::move(created_by);
        s.line = node.start_line;
        stage().steps.push_back(std::move(s));
        return stage().steps.back();
    }

    void from(const Node& node) {
        auto fl = flags(node, {"platform"});
        if (node.args.size() != 1 && node.args.size() != 3)
            fail(node, "FROM requires either one or three arguments");
        if (node.args.size() == 3 && lower_ascii(node.args[1]) != "as")
            fail(node, "FROM requires either one or three arguments");
        Stage st;
        st.index = static_cast<int>(plan_.stages.size());
        st.line = node.start_line;
        st.base = expand(node, node.args[0], global_);
        if (st.base.empty())
            fail(node, "base name (" + node.args[0] + ") should not be blank");
        if (node.args.size() == 3) {
            st.name = lower_ascii(node.args[2]);
            for (const auto& s : plan_.stages) {
                if (s.name == st.name)
                    fail(node, "duplicate stage name \"" + st.name + "\"");
            }
        }
        for (const auto& f : fl)
            st.platform = expand(node, f.value, global_);
        if (lower_ascii(st.base) != "scratch") {
            fail(node, "FROM " + st.base +
                           ": only FROM scratch is supported by this version of kiln yet");
        }
        st.settings.set_env("PATH", kDefaultPath);
        plan_.stages.push_back(std::move(st));
        stage_args_ = Environment();
        cmd_set_ = false;
    }

    void env(const Node& node) {
        flags(node, {});
        std::string msg = "ENV";
        // Every pair sees the environment from before this instruction, as in
        // BuildKit: "ENV a=1 b=$a" gives b the old value of a.
        Environment e = stage_env();
        for (size_t i = 0; i + 1 < node.args.size(); i += 3) {
            std::string key = expand(node, node.args[i], e);
            std::string value = expand(node, node.args[i + 1], e);
            if (key.empty())
                fail(node, "ENV names can not be blank");
            stage().settings.set_env(key, value);
            msg += " " + key + "=" + value;
        }
        add_step(node, Step::Kind::metadata, msg);
    }

    void label(const Node& node) {
        flags(node, {});
        std::string msg = "LABEL";
        Environment e = stage_env();
        for (size_t i = 0; i + 1 < node.args.size(); i += 3) {
            std::string key = expand(node, node.args[i], e);
            std::string value = expand(node, node.args[i + 1], e);
            if (key.empty())
                fail(node, "LABEL names can not be blank");
            stage().settings.labels[key] = value;
            msg += " " + key + "=" + value;
        }
        add_step(node, Step::Kind::metadata, msg);
    }

    void arg(const Node& node) {
        flags(node, {});
        if (node.args.empty())
            fail(node, "ARG requires at least one argument");
        std::string msg = "ARG";
        for (const auto& word : node.args) {
            auto eq = word.find('=');
            std::string name = word.substr(0, eq);
            auto [n, value] = arg_word(node, word, stage_env());
            // A re-declared global ARG without a value takes the global's value.
            if (!value && eq == std::string::npos) {
                if (auto g = global_declared_.get(name))
                    value = std::string(*g);
                if (auto p = predefined_.get(name))
                    value = std::string(*p);
            }
            if (value) {
                stage_args_.set(name, *value);
                msg += " " + name + "=" + *value;
            } else {
                msg += " " + name;
            }
        }
        add_step(node, Step::Kind::metadata, msg);
    }

    void workdir(const Node& node) {
        flags(node, {});
        if (node.args.size() != 1 || node.args[0].empty())
            fail(node, "WORKDIR requires exactly one argument");
        std::string dir = expand(node, node.args[0], stage_env());
        std::string base =
            stage().settings.working_dir.empty() ? "/" : stage().settings.working_dir;
        std::string path = clean_abs(dir.starts_with('/') ? dir : base + "/" + dir);
        stage().settings.working_dir = path;
        Step& s = add_step(node, Step::Kind::workdir, "WORKDIR " + path);
        s.workdir = path;
    }

    void simple(const Node& node, std::string& field, const char* name) {
        flags(node, {});
        if (node.args.size() != 1 || node.args[0].empty())
            fail(node, std::string(name) + " requires exactly one argument");
        field = expand(node, node.args[0], stage_env());
        add_step(node, Step::Kind::metadata, std::string(name) + " " + field);
    }

    void maintainer(const Node& node) {
        flags(node, {});
        if (node.args.size() != 1)
            fail(node, "MAINTAINER requires exactly one argument");
        stage().settings.maintainer = node.args[0];
        add_step(node, Step::Kind::metadata, "MAINTAINER " + node.args[0]);
    }

    void expose(const Node& node) {
        flags(node, {});
        if (node.args.empty())
            fail(node, "EXPOSE requires at least one argument");
        Environment e = stage_env();
        std::set<std::string> mine;
        for (const auto& raw : node.args) {
            std::string spec = expand(node, raw, e);
            std::string proto = "tcp";
            auto slash = spec.find('/');
            std::string ports = spec.substr(0, slash);
            if (slash != std::string::npos)
                proto = lower_ascii(spec.substr(slash + 1));
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
        flags(node, {});
        if (node.args.empty())
            fail(node, "VOLUME requires at least one argument");
        Environment e = stage_env();
        std::vector<std::string> vols;
        for (const auto& raw : node.args) {
            std::string v = expand(node, raw, e);
            if (v.empty())
                fail(node, "VOLUME specified can not be an empty string");
            stage().settings.volumes.insert(v);
            vols.push_back(v);
        }
        std::string msg = "VOLUME [";
        for (size_t i = 0; i < vols.size(); ++i)
            msg += (i ? " " : "") + vols[i];
        add_step(node, Step::Kind::metadata, msg + "]");
    }

    std::vector<std::string> command_words(const Node& node) const {
        if (node.json_form)
            return node.args;
        std::vector<std::string> words =
            stage().settings.shell.value_or(std::vector<std::string>{"/bin/sh", "-c"});
        if (!node.args.empty())
            words.push_back(node.args[0]);
        return words;
    }

    void cmd_or_entrypoint(const Node& node, bool is_cmd) {
        flags(node, {});
        auto words = command_words(node);
        if (!node.json_form && node.args.empty())
            words.clear();
        if (is_cmd) {
            stage().settings.cmd = words;
            cmd_set_ = true;
            add_step(node, Step::Kind::metadata, "CMD " + go_quote_list(words));
        } else {
            stage().settings.entrypoint = words;
            // An ENTRYPOINT drops a CMD inherited from the base, not one set in this stage.
            if (!cmd_set_)
                stage().settings.cmd.reset();
            add_step(node, Step::Kind::metadata, "ENTRYPOINT " + go_quote_list(words));
        }
    }

    void shell(const Node& node) {
        flags(node, {});
        if (!node.json_form)
            fail(node, "SHELL requires the arguments to be in JSON form");
        if (node.args.empty())
            fail(node, "SHELL requires at least one argument");
        stage().settings.shell = node.args;
        std::string msg = "SHELL [";  // Go's %v of a []string
        for (size_t i = 0; i < node.args.size(); ++i)
            msg += (i ? " " : "") + node.args[i];
        add_step(node, Step::Kind::metadata, msg + "]");
    }

    void healthcheck(const Node& node) {
        auto fl = flags(node, {"interval", "timeout", "start-period", "start-interval", "retries"});
        if (node.args.empty())
            fail(node, "HEALTHCHECK requires an argument");
        ImageSettings::Healthcheck hc;
        std::string type = upper(node.args[0]);
        if (type == "NONE") {
            if (node.args.size() > 1)
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
        for (const auto& f : fl) {
            if (f.name == "retries") {
                try {
                    hc.retries = std::stoi(f.value);
                } catch (const std::exception&) {
                    fail(node, "invalid --retries value: " + f.value);
                }
                if (hc.retries < 0)
                    fail(node, "--retries cannot be negative (" + f.value + ")");
                continue;
            }
            long long ns = parse_duration(f.value);
            if (ns < 0)
                fail(node, "invalid --" + f.name + " value: " + f.value);
            if (f.name == "interval")
                hc.interval_ns = ns;
            if (f.name == "timeout")
                hc.timeout_ns = ns;
            if (f.name == "start-period")
                hc.start_period_ns = ns;
            if (f.name == "start-interval")
                hc.start_interval_ns = ns;
        }
        stage().settings.healthcheck = hc;
        add_step(node, Step::Kind::metadata, "HEALTHCHECK " + go_quote_list(hc.test));
    }

    void onbuild(const Node& node) {
        if (!node.onbuild)
            fail(node, "ONBUILD requires at least one argument");
        const std::string& kw = node.onbuild->keyword;
        if (kw == "onbuild")
            fail(node, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (kw == "from" || kw == "maintainer")
            fail(node, upper(kw) + " isn't allowed as an ONBUILD trigger");
        std::string text = node.original;
        auto pos = lower_ascii(text).find("onbuild");
        text = text.substr(pos + 7);
        text.erase(0, text.find_first_not_of(" \t"));
        stage().settings.on_build.push_back(text);
        add_step(node, Step::Kind::metadata, "ONBUILD " + text);
    }

    void copy(const Node& node) {
        auto fl = flags(node, {"from", "chown", "chmod", "link", "parents", "exclude", "checksum"});
        if (!node.heredocs.empty())
            fail(node, "COPY with heredoc sources is not supported by this version of kiln yet");
        if (node.args.size() < 2)
            fail(node,
                 "COPY requires at least two arguments, but only one was provided. Destination "
                 "could not be determined");
        Environment e = stage_env();
        CopySpec spec;
        for (const auto& f : fl) {
            std::string v = expand(node, f.value, e);
            if (f.name == "chown")
                spec.chown = v;
            else if (f.name == "chmod")
                spec.chmod = v;
            else if (f.name == "from")
                fail(node, "COPY --from is not supported by this version of kiln yet");
            else
                fail(node, "COPY --" + f.name + " is not supported by this version of kiln yet");
        }
        std::vector<std::string> words;
        for (const auto& a : node.args)
            words.push_back(expand(node, a, e));
        for (size_t i = 0; i + 1 < words.size(); ++i) {
            if (words[i].empty())
                fail(node, "COPY source must not be empty");
            spec.sources.push_back(words[i]);
        }
        std::string dest = words.back();
        if (dest.empty())
            fail(node, "COPY destination must not be empty");
        spec.dest_is_dir =
            dest.ends_with('/') || dest == "." || dest.ends_with("/.") || spec.sources.size() > 1;
        std::string base =
            stage().settings.working_dir.empty() ? "/" : stage().settings.working_dir;
        spec.dest = clean_abs(dest.starts_with('/') ? dest : base + "/" + dest);
        std::string msg = "COPY";
        if (!spec.chown.empty())
            msg += " --chown=" + spec.chown;
        if (!spec.chmod.empty())
            msg += " --chmod=" + spec.chmod;
        for (const auto& w : words)
            msg += " " + w;
        Step& s = add_step(node, Step::Kind::copy, msg + " # buildkit");
        s.copy = std::move(spec);
    }

    void choose_target() {
        if (opt_.target.empty()) {
            plan_.target = static_cast<int>(plan_.stages.size()) - 1;
            return;
        }
        std::string want = lower_ascii(opt_.target);
        for (const auto& s : plan_.stages) {
            if (s.name == want) {
                plan_.target = s.index;
                return;
            }
        }
        throw DockerfileError(opt_.filename, 0,
                              "target stage \"" + opt_.target + "\" could not be found");
    }

    const ParseResult& parsed_;
    const LowerOptions& opt_;
    ShellLex lex_;
    BuildPlan plan_;
    Environment predefined_;
    Environment global_;           // what FROM lines see
    Environment global_declared_;  // global ARGs with a value, for re-declaration in stages
    std::set<std::string> declared_unset_;
    Environment stage_args_;
    std::set<std::string> used_args_;
    bool cmd_set_ = false;
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
