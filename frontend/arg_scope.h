// The build-argument scopes of a Dockerfile, as BuildKit keeps them: the predefined platform
// ARGs, the global scope (ARGs before the first FROM, which only FROM lines see, with
// --build-arg values applied) and which --build-arg values some ARG declared. A stage's own
// scope (its declared ARGs and their values) lives in the stage state (lower_stage.h); this
// type answers what a stage's ARG resolves to. Internal to frontend/.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/lower_context.h"
#include "frontend/shell_lex.h"

namespace kiln::frontend {

// HTTP_PROXY, http_proxy, ... (BuildKit's allowed proxy args), in BuildKit's order.
const std::vector<std::string>& proxy_args();

// TARGETPLATFORM, BUILDARCH, ... and the proxy args: never reported as unused.
bool is_predefined_arg(const std::string& name);

class ArgScope {
  public:
    // global_args: the ARG nodes before the first FROM, in order. The predefined platform ARGs
    // are set from ctx.options (a --build-arg of the same name wins). lex and ctx must outlive
    // the scope.
    ArgScope(std::vector<const Node*> global_args, const ShellLex& lex, const LowerContext& ctx);

    // The global scope from the Dockerfile's defaults alone, without --build-arg values
    // (BuildKit's check for InvalidDefaultArgInFrom). Throws like resolve_globals().
    Environment defaults_only() const;

    // Computes the global scope with --build-arg values; throws DockerfileError for a
    // malformed ARG or a default whose expansion fails. Call once, before global().
    void resolve_globals();
    const Environment& global() const { return global_; }

    // Reports UndefinedArgInFrom for each name a FROM line used that the global scope neither
    // declares nor defines, with a suggestion.
    void report_undeclared_in_from(const Node& from, const std::set<std::string>& unmatched) const;

    // The value an `ARG name[=def]` in a stage takes (BuildKit's dispatchArg): the
    // --build-arg value, else the default expanded with expand, else (no default) the global
    // value; nullopt when none. Marks the --build-arg as used.
    std::optional<std::string> stage_value(const std::string& name,
                                           const std::optional<std::string>& def,
                                           const ExpandWord& expand);

    // The --build-arg names no ARG declared (predefined ones aside), sorted.
    std::vector<std::string> unused_build_args() const;

  private:
    // BuildKit's buildMetaArgs: the global scope with or without --build-arg values.
    Environment meta_env(bool with_build_args, std::set<std::string>* declared) const;

    std::vector<const Node*> global_args_;
    const ShellLex& lex_;
    const LowerContext& ctx_;
    Environment predefined_;
    Environment global_;
    std::set<std::string> declared_globally_;
    std::set<std::string> used_;
};

}  // namespace kiln::frontend
