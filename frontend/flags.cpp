#include "frontend/flags.h"

#include "frontend/go_compat.h"

namespace kiln::frontend {

Flags parse_flags(const Node& node, std::initializer_list<FlagSpec> allowed,
                  const LowerContext& ctx) {
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
            ctx.fail(node, "unknown flag: " + name);
        switch (spec->type) {
            case FlagSpec::Type::boolean: {
                if (out.boolean.count(name))
                    ctx.fail(node, "duplicate flag specified: " + name);
                bool v = true;
                if (has_value) {
                    auto b = parse_go_bool(value);
                    if (!b)
                        ctx.fail(node,
                                 "expecting boolean value for flag " + name + ", not: " + value);
                    v = *b;
                }
                out.boolean[name] = v;
                break;
            }
            case FlagSpec::Type::string:
                if (!has_value)
                    ctx.fail(node, "missing a value on flag: " + name);
                if (out.str.count(name))
                    ctx.fail(node, "duplicate flag specified: " + name);
                out.str[name] = value;
                break;
            case FlagSpec::Type::multi:
                if (!has_value)
                    ctx.fail(node, "missing a value on flag: " + name);
                out.multi[name].push_back(value);
                break;
        }
    }
    return out;
}

}  // namespace kiln::frontend
