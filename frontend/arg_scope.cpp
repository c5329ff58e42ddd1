#include "frontend/arg_scope.h"

#include <algorithm>
#include <utility>

#include "frontend/go_compat.h"
#include "frontend/instructions.h"

namespace kiln::frontend {

const std::vector<std::string>& proxy_args() {
    static const std::vector<std::string> names = {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
        "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
    return names;
}

bool is_predefined_arg(const std::string& name) {
    static const std::set<std::string> names = {"TARGETPLATFORM", "TARGETOS",      "TARGETARCH",
                                                "TARGETVARIANT",  "BUILDPLATFORM", "BUILDOS",
                                                "BUILDARCH",      "BUILDVARIANT"};
    return names.count(name) != 0 ||
           std::find(proxy_args().begin(), proxy_args().end(), name) != proxy_args().end();
}

ArgScope::ArgScope(std::vector<const Node*> global_args, const ShellLex& lex,
                   const LowerContext& ctx)
    : global_args_(std::move(global_args)), lex_(lex), ctx_(ctx) {
    const LowerOptions& opt = ctx.options;
    auto platform = [](const std::string& os, const std::string& arch, const std::string& variant) {
        return os + "/" + arch + (variant.empty() ? "" : "/" + variant);
    };
    std::string bos = opt.build_os.empty() ? opt.os : opt.build_os;
    std::string barch = opt.build_arch.empty() ? opt.arch : opt.build_arch;
    std::string bvar =
        opt.build_arch.empty() && opt.build_os.empty() ? opt.variant : opt.build_variant;
    std::vector<std::pair<std::string, std::string>> vals = {
        {"BUILDPLATFORM", platform(bos, barch, bvar)},
        {"BUILDOS", bos},
        {"BUILDARCH", barch},
        {"BUILDVARIANT", bvar},
        {"TARGETPLATFORM", platform(opt.os, opt.arch, opt.variant)},
        {"TARGETOS", opt.os},
        {"TARGETARCH", opt.arch},
        {"TARGETVARIANT", opt.variant},
    };
    for (auto& [k, v] : vals) {
        if (auto it = opt.build_args.find(k); it != opt.build_args.end())
            v = it->second;
        predefined_.set(k, v);
    }
}

Environment ArgScope::meta_env(bool with_build_args, std::set<std::string>* declared) const {
    Environment env = predefined_;
    for (const Node* node : global_args_) {
        for (auto& [name, value] : parse_arg(*node, ctx_).args) {
            if (declared)
                declared->insert(name);
            auto it = ctx_.options.build_args.find(name);
            if (with_build_args && it != ctx_.options.build_args.end()) {
                value = it->second;
            } else if (value) {
                try {
                    value = lex_.process_word(*value, env);
                } catch (const ExpansionError& e) {
                    ctx_.fail(*node, e.what());
                }
            }
            if (value)
                env.set(name, *value);
        }
    }
    return env;
}

Environment ArgScope::defaults_only() const {
    return meta_env(false, nullptr);
}

void ArgScope::resolve_globals() {
    global_ = meta_env(true, &declared_globally_);
    used_.insert(declared_globally_.begin(), declared_globally_.end());
}

void ArgScope::report_undeclared_in_from(const Node& from,
                                         const std::set<std::string>& unmatched) const {
    std::vector<std::string> keys(declared_globally_.begin(), declared_globally_.end());
    for (const auto& [k, v] : global_.entries()) {
        if (!declared_globally_.count(k))
            keys.push_back(k);
    }
    for (const auto& name : unmatched) {
        if (declared_globally_.count(name) || global_.get(name))
            continue;
        std::string msg = "FROM argument '" + name + "' is not declared";
        if (auto s = suggest(name, keys); !s.empty())
            msg += " (did you mean " + s + "?)";
        ctx_.lint("UndefinedArgInFrom", from.start_line, msg);
    }
}

std::optional<std::string> ArgScope::stage_value(const std::string& name,
                                                 const std::optional<std::string>& def,
                                                 const ExpandWord& expand) {
    auto given = ctx_.options.build_args.find(name);
    bool has_value = given != ctx_.options.build_args.end();
    std::optional<std::string> value = def;
    if (!def && !has_value) {
        if (auto g = global_.get(name))
            value = std::string(*g);
    }
    if (has_value)
        value = given->second;
    else if (def)
        value = expand(*def);
    used_.insert(name);
    return value;
}

std::vector<std::string> ArgScope::unused_build_args() const {
    std::vector<std::string> out;
    for (const auto& [name, value] : ctx_.options.build_args) {
        if (!used_.count(name) && !is_predefined_arg(name))
            out.push_back(name);
    }
    return out;
}

}  // namespace kiln::frontend
