// Typed instructions: one struct per Dockerfile instruction, made from a parsed Node by the
// checks that need no stage state (flags against each instruction's spec, argument counts,
// HEALTHCHECK's options, ONBUILD's trigger), as BuildKit's instructions.ParseInstruction does.
// Words are kept as written: expanding them needs the stage's environment, which is the
// converting step's job (lower_stage.h). Internal to frontend/.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "frontend/build_plan.h"
#include "frontend/lower_context.h"
#include "frontend/parser.h"

namespace kiln::frontend {

struct FromInstruction {
    std::string base;                     // image or stage, unexpanded
    std::optional<std::string> platform;  // --platform, unexpanded
    std::optional<std::string> name;      // after AS, as written
};

struct ArgDecl {
    std::string name;
    std::optional<std::string> value;  // the default, unexpanded; nullopt for "ARG NAME"
};
struct ArgInstruction {
    std::vector<ArgDecl> args;
};

// ENV and LABEL: (key, value) words in order, unexpanded.
struct EnvInstruction {
    std::vector<std::pair<std::string, std::string>> pairs;
};
struct LabelInstruction {
    std::vector<std::pair<std::string, std::string>> pairs;
};

// WORKDIR, USER, STOPSIGNAL: the one word, unexpanded. MAINTAINER is never expanded.
struct WorkdirInstruction {
    std::string path;
};
struct UserInstruction {
    std::string user;
};
struct StopsignalInstruction {
    std::string signal;
};
struct MaintainerInstruction {
    std::string name;
};

// EXPOSE and VOLUME: their words, unexpanded (at least one).
struct ExposeInstruction {
    std::vector<std::string> ports;
};
struct VolumeInstruction {
    std::vector<std::string> volumes;
};

// CMD and ENTRYPOINT. Exec form: words is the argv. Shell form: words is empty or holds the
// one command line, which the stage's SHELL runs.
struct CommandInstruction {
    bool is_cmd = true;
    bool exec_form = false;
    std::vector<std::string> words;
};

struct ShellInstruction {
    std::vector<std::string> shell;  // JSON form, not empty
};

struct HealthcheckInstruction {
    ImageSettings::Healthcheck check;  // fully parsed: nothing in it is expanded
};

struct OnbuildInstruction {
    std::string trigger;  // the nested instruction as written ("COPY a /b")
};

struct RunInstruction {
    std::vector<std::string> mounts;      // --mount values, unexpanded (run_mounts.h reads them)
    std::optional<std::string> network;   // --network as written, checked when lowered
    std::optional<std::string> security;  // --security as written, checked when lowered
};

// COPY and ADD (the ADD-only flags are refused for COPY and the reverse). Sources and
// destination are node.args; heredoc sources are told apart when lowering.
struct CopyInstruction {
    bool is_add = false;
    std::optional<std::string> from;  // --from, unexpanded (BuildKit does not expand it)
    std::string chown, chmod, checksum;
    bool link = false, parents = false, keep_git_dir = false;
    std::optional<bool> unpack;  // --unpack when given
    std::vector<std::string> excludes;
};

using Instruction =
    std::variant<ArgInstruction, EnvInstruction, LabelInstruction, WorkdirInstruction,
                 UserInstruction, StopsignalInstruction, MaintainerInstruction, ExposeInstruction,
                 VolumeInstruction, CommandInstruction, ShellInstruction, HealthcheckInstruction,
                 OnbuildInstruction, RunInstruction, CopyInstruction>;

FromInstruction parse_from(const Node& node, const LowerContext& ctx);
ArgInstruction parse_arg(const Node& node, const LowerContext& ctx);

// Any instruction of a stage (FROM aside). Throws (ctx.fail on node) in BuildKit's words for
// a bad flag or argument count, and "FROM isn't allowed as an ONBUILD trigger" /
// "unknown instruction: X" for keywords a stage cannot hold.
Instruction parse_instruction(const Node& node, const LowerContext& ctx);

}  // namespace kiln::frontend
