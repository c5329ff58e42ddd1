#include "frontend/run_mounts.h"

#include "base/go_quote.h"
#include "frontend/ascii.h"
#include "frontend/go_compat.h"

namespace kiln::frontend {

MountSpec parse_mount(const Node& node, const std::string& value, int ssh_index,
                      const std::string& workdir, const ExpandWord& expand,
                      const LowerContext& ctx) {
    auto fields = parse_csv_record(value);
    if (!fields)
        ctx.fail(node, "failed to parse mount " + value);
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
                    ctx.fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
                m.required = true;
                continue;
            }
            ctx.fail(node, "invalid field '" + field + "' must be a key=value pair");
        }
        std::string v = expand(field.substr(eq + 1));
        if (key == "type") {
            std::string t = ascii_lower(v);
            if (t != "bind" && t != "cache" && t != "tmpfs" && t != "secret" && t != "ssh")
                ctx.fail(node, "unsupported mount type " + go_quote(v));
            m.type = t;
        } else if (key == "from") {
            m.from = v;
        } else if (key == "source" || key == "src") {
            m.source = v;
        } else if (key == "target" || key == "dst" || key == "destination") {
            m.target = v;
        } else if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw") {
            auto b = parse_go_bool(v);
            if (!b)
                ctx.fail(node, "invalid value for " + key + ": " + v);
            m.readonly = (key == "readonly" || key == "ro") ? *b : !*b;
            ro_auto = false;
        } else if (key == "required") {
            if (m.type != "secret" && m.type != "ssh")
                ctx.fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
            auto b = parse_go_bool(v);
            if (!b)
                ctx.fail(node, "invalid value for " + key + ": " + v);
            m.required = *b;
        } else if (key == "id") {
            m.id = v;
        } else if (key == "sharing") {
            std::string s = ascii_lower(v);
            if (!s.empty() && s != "shared" && s != "private" && s != "locked")
                ctx.fail(node, "unsupported sharing value " + go_quote(v));
            m.sharing = s;
        } else if (key == "mode") {
            if (!all_of_chars(v, "01234567") || v.size() > 11)
                ctx.fail(node, "invalid value " + v + " for mode");
            m.mode = v;
            has_mode = true;
        } else if (key == "uid" || key == "gid") {
            if (!all_of_chars(v, "0123456789") || v.size() > 10 || std::stoull(v) > 0xffffffffULL)
                ctx.fail(node, "invalid value " + v + " for " + key);
            (key == "uid" ? m.uid : m.gid) = v;
            (key == "uid" ? has_uid : has_gid) = true;
        } else if (key == "env") {
            m.env = v;
        } else if (key == "size") {
            if (m.type != "tmpfs")
                ctx.fail(node, "unexpected key '" + key + "' for mount type '" + m.type + "'");
            m.size = v;
        } else {
            ctx.fail(node, "unexpected key '" + key + "' in '" + field + "'");
        }
    }
    bool file_info = m.type == "secret" || m.type == "ssh" || m.type == "cache";
    if (!file_info) {
        if (has_mode)
            ctx.fail(node, "mode not allowed for " + go_quote(m.type) + " type mounts");
        if (has_uid)
            ctx.fail(node, "uid not allowed for " + go_quote(m.type) + " type mounts");
        if (has_gid)
            ctx.fail(node, "gid not allowed for " + go_quote(m.type) + " type mounts");
    }
    if (ro_auto)
        m.readonly = !(m.type == "cache" || m.type == "tmpfs");
    if (!m.sharing.empty() && m.type != "cache")
        ctx.fail(node, "invalid cache sharing set for " + m.type + " mount");
    if (m.type == "secret") {
        if (!m.from.empty())
            ctx.fail(node, "secret mount should not have a from");
        if (m.source.empty() && m.target.empty() && m.id.empty() && m.env.empty())
            ctx.fail(node, "invalid secret mount. one of source, target required");
        if (!m.source.empty() && !m.id.empty())
            ctx.fail(node, "both source and id can't be set");
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
        std::string target = join_abs_path(workdir, m.target);
        if (target == "/")
            ctx.fail(node, "invalid mount target " + go_quote(target));
        m.target = target;
    }
    if (m.type == "cache") {
        if (m.id.empty())
            m.id = m.target;
        if (m.sharing.empty())
            m.sharing = "shared";
    }
    return m;
}

std::string mount_from_raw(const std::string& value) {
    auto fields = parse_csv_record(value);
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

}  // namespace kiln::frontend
