#include "solver/op_copy.h"

#include "base/error.h"
#include "base/root_dir.h"
#include "solver/copy_op.h"

namespace kiln::solver {

nlohmann::json copy_op_key(const frontend::CopySpec& c) {
    std::vector<std::string> heredocs;
    for (const auto& h : c.heredocs)
        heredocs.push_back(h.name + "\n" + h.content);
    return {{"copy", c.sources},      {"dest", c.dest},      {"dest_is_dir", c.dest_is_dir},
            {"chown", c.chown},       {"chmod", c.chmod},    {"heredocs", heredocs},
            {"excludes", c.excludes}, {"parents", c.parents}};
}

std::optional<std::string> copy_from_key(const frontend::CopySpec& c, OpEnv& env) {
    if (c.from_stage >= 0)
        return env.stage_key(c.from_stage).str();
    if (!c.from_context.empty()) {
        const NamedContext& named = env.named_context(c.from_context);
        return named.context.sources_digest(c.sources, *named.stats, c.excludes).str();
    }
    if (!c.from.empty()) {
        // Missing images were reported before the build started (check_images).
        if (auto image = env.resolve_image(c.from))
            return image->descriptor.digest.str();
    }
    return std::nullopt;
}

CopySource::CopySource(const frontend::CopySpec& c, OpEnv& env) : context_(&env.context()) {
    if (c.from_stage >= 0)
        owned_ = std::make_unique<BuildContext>(env.stage_view(c.from_stage),
                                                std::vector<std::string>{});
    else if (!c.from_context.empty())
        context_ = &env.named_context(c.from_context).context;
    else if (!c.from.empty())  // --from=<image>
        owned_ = std::make_unique<BuildContext>(env.image_view(*env.resolve_image(c.from)),
                                                std::vector<std::string>{});
}

std::vector<int> CopyOp::reads() const {
    if (spec_.from_stage >= 0)
        return {spec_.from_stage};
    return {};
}

nlohmann::json CopyOp::cache_key(OpEnv& env) {
    auto input = copy_from_key(spec_, env);
    return {{"op", copy_op_key(spec_)},
            {"input", input ? *input
                            : env.context()
                                  .sources_digest(spec_.sources, env.stats(), spec_.excludes,
                                                  env.summary_files())
                                  .str()}};
}

bool CopyOp::incremental() const {
    return spec_.from_stage < 0 && spec_.from.empty() && spec_.heredocs.empty() && !spec_.parents &&
           !spec_.link;
}

bool CopyOp::kept(const std::string& path) const {
    if (!made_)
        return false;
    auto it = made_->files.find(path);
    return it != made_->files.end() && it->second.kept;
}

bool CopyOp::execute(const std::filesystem::path& root, OpEnv& env) {
    CopySource source(spec_, env);
    // Written straight into the snapshot: its upper directory is the step's diff.
    if (!incremental()) {
        run_copy(spec_, source.get(), root);
        return true;
    }
    CopyRecorder recorder(env.context().root().string(), env.stats());
    run_copy(spec_, source.get(), root, &recorder);
    made_ = recorder.take_record();
    return true;
}

bool CopyOp::execute_again(const std::filesystem::path& tree, std::string previous, OpEnv& env) {
    if (!incremental())
        return false;
    try {
        CopyRecord record = CopyRecord::parse(previous);
        std::string().swap(previous);  // not needed once read
        CopyRebaser rebaser(env.context().root().string(), env.stats(), std::move(record));
        run_copy(spec_, env.context(), tree, &rebaser);
        rebaser.finish(RootDir(tree));
        env.log("incremental: " + std::to_string(rebaser.kept()) + " of " +
                std::to_string(rebaser.record().files.size()) + " files unchanged");
        made_ = rebaser.take_record();
        return true;
    } catch (const NotIncremental& e) {
        env.log(std::string("incremental copy not possible: ") + e.what());
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        // The full copy says it again, on the image as it is, if it is real.
        env.log(std::string("incremental copy not possible: ") + e.what());
    }
    return false;
}

}  // namespace kiln::solver
