#include "build/named_contexts.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "base/ascii.h"
#include "build/remote_context.h"
#include "content/atomic_file.h"
#include "exporter/archive_import.h"
#include "frontend/dockerignore.h"
#include "solver/add_op.h"
#include "solver/stat_cache.h"

namespace kiln::build {

namespace fs = std::filesystem;
using Kind = frontend::NamedContext::Kind;

namespace {

BuildContextSpec parse_value(const std::string& name, const std::string& value) {
    const std::string flag = "--build-context " + name + "=" + value;
    if (value.empty())
        throw UsageError(flag +
                         ": the value is empty (a directory, docker-image://REF, "
                         "oci-layout://DIR, a URL or target:STAGE)");
    if (value.starts_with("docker-image://")) {
        std::string ref = value.substr(15);
        if (ref.empty())
            throw UsageError(flag + ": docker-image:// names no image");
        return {Kind::image, ref, false, "", ""};
    }
    if (value.starts_with("target:")) {
        std::string stage = value.substr(7);
        if (stage.empty())
            throw UsageError(flag + ": target: names no stage");
        return {Kind::stage, stage, false, "", ""};
    }
    if (value.starts_with("oci-layout://")) {
        // DIR[:TAG|@DIGEST]: a tag is after the last ':' that follows the last '/'.
        std::string dir = value.substr(13), ref;
        if (auto at = dir.rfind('@'); at != std::string::npos) {
            ref = dir.substr(at + 1);
            dir.resize(at);
        } else if (auto colon = dir.rfind(':');
                   colon != std::string::npos &&
                   (dir.rfind('/') == std::string::npos || colon > dir.rfind('/'))) {
            ref = dir.substr(colon + 1);
            dir.resize(colon);
        }
        std::error_code ec;
        if (dir.empty() || !fs::is_regular_file(fs::path(dir) / "index.json", ec))
            throw UsageError(flag + ": " + (dir.empty() ? std::string("no directory") : dir) +
                             " is not an OCI image layout (no index.json)");
        BuildContextSpec spec{Kind::image, "oci-layout://" + value.substr(13), false, "", ""};
        spec.layout = fs::absolute(dir).lexically_normal().string();
        spec.layout_ref = ref;
        return spec;
    }
    if (value == "-")
        throw UsageError(flag + ": standard input can hold only the main build context");
    if (is_remote_context(value))
        return {Kind::local, value, true, "", ""};
    std::error_code ec;
    if (!fs::is_directory(value, ec))
        throw UsageError(flag + ": " + value + " is not a directory");
    return {Kind::local, fs::absolute(value).lexically_normal().string(), false, "", ""};
}

}  // namespace

std::map<std::string, BuildContextSpec> parse_build_contexts(
    const std::vector<std::string>& specs) {
    std::map<std::string, BuildContextSpec> out;
    for (const auto& spec : specs) {
        auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError("--build-context " + spec + ": expected NAME=VALUE");
        std::string name = ascii_lower(spec.substr(0, eq));
        if (name == "scratch" || name == "context")
            throw UsageError("--build-context " + spec + ": \"" + name + "\" is a reserved name");
        if (out.count(name))
            throw UsageError("--build-context " + spec + ": " + name + " is given twice");
        out.emplace(name, parse_value(spec.substr(0, eq), spec.substr(eq + 1)));
    }
    return out;
}

// A directory (the user's, or a URL fetched under tmp/) read as a context.
struct NamedContexts::Local {
    std::optional<RemoteContext> fetched;
    std::optional<solver::StatCache> stats;
    std::optional<solver::NamedContext> context;
};

namespace {

std::vector<std::string> dockerignore_of(const fs::path& dir) {
    std::error_code ec;
    const fs::path file = dir / ".dockerignore";
    if (!fs::is_regular_file(file, ec))
        return {};
    return frontend::parse_dockerignore(read_file(file));
}

}  // namespace

NamedContexts::NamedContexts(const std::map<std::string, BuildContextSpec>& specs,
                             const content::StateRoot& root, BaseImages& bases, Progress& progress,
                             const CancelFlag* cancel) {
    for (const auto& [name, spec] : specs) {
        if (!spec.layout.empty())  // read into the store for each platform a stage asks for
            bases.pin(spec.value, [&root, &progress, name, spec](const registry::PlatformSpec& p) {
                VertexScope v(progress,
                              "[context " + name + "] load " + spec.value + " for " + p.str());
                auto image = exporter::import_layout_image(root, spec.layout, spec.layout_ref, p);
                v.done();
                return image;
            });
        if (spec.kind != Kind::local) {
            lower_[name] = {spec.kind, spec.value};
            continue;
        }
        auto local = std::make_unique<Local>();
        fs::path dir = spec.value;
        if (spec.remote) {
            local->fetched.emplace(fetch_context(spec.value, nullptr, root, progress, cancel));
            if (local->fetched->dockerfile)
                throw Error("--build-context " + name + "=" + solver::redact_url(spec.value) +
                            ": not an archive or a git repository");
            dir = local->fetched->context();
        }
        // One stat cache per thing the user named, as the build context's.
        local->stats.emplace(root.cache() / "stat" /
                             std::string(content::Digest::of(spec.value).hex()));
        try {
            local->context.emplace(dir, dockerignore_of(dir), *local->stats);
        } catch (const frontend::PatternError& e) {
            throw Error("--build-context " + name + ": " + (dir / ".dockerignore").string() + ": " +
                        e.what());
        }
        lower_[name] = {Kind::local, name};
        solve_[name] = &*local->context;
        locals_.push_back(std::move(local));
    }
}

NamedContexts::~NamedContexts() = default;

}  // namespace kiln::build
