// Instruction flags ("--from=build", "--link", "--mount=...") read against a declarative spec,
// as BuildKit's BFlags does: each instruction lists the flags it accepts and their types, and
// anything else is refused with BuildKit's words. Internal to frontend/.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "frontend/lower_context.h"
#include "frontend/parser.h"

namespace kiln::frontend {

struct FlagSpec {
    enum class Type {
        string,   // --name=value, at most once, value required
        boolean,  // --name or --name=<Go bool>, at most once
        multi,    // --name=value, any number of times, in order
    };
    const char* name;
    Type type;
};

// The flags an instruction was given; a flag that was not given is absent from every map.
struct Flags {
    std::map<std::string, std::string> str;
    std::map<std::string, bool> boolean;
    std::map<std::string, std::vector<std::string>> multi;

    bool has(const std::string& name) const {
        return str.count(name) || boolean.count(name) || multi.count(name);
    }
    // The value of a string flag, "" when not given.
    std::string get(const std::string& name) const {
        auto it = str.find(name);
        return it == str.end() ? "" : it->second;
    }
    // A boolean flag's value, false when not given.
    bool on(const std::string& name) const {
        auto it = boolean.find(name);
        return it != boolean.end() && it->second;
    }
    // Every value of a multi flag, in order; empty when not given.
    std::vector<std::string> all(const std::string& name) const {
        auto it = multi.find(name);
        return it == multi.end() ? std::vector<std::string>{} : it->second;
    }
};

// Reads node.flags against allowed. Throws (ctx.fail on node) "unknown flag: X",
// "duplicate flag specified: X", "missing a value on flag: X" or "expecting boolean value
// for flag X, not: V", for the first flag in error, in the order written.
Flags parse_flags(const Node& node, std::initializer_list<FlagSpec> allowed,
                  const LowerContext& ctx);

}  // namespace kiln::frontend
