// Whole builds through the solver as unit tests: Dockerfile text → parse →
// lower → solve(), on the native snapshotter, a temp state root (blob store,
// build cache, stat cache), base images made in that store, and a
// FakeExecutor for RUN. No root, no runc, no network.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "content/state_root.h"
#include "content/temp_dir.h"
#include "exporter/image_commit.h"
#include "frontend/lower.h"
#include "frontend/parser.h"
#include "snapshotter/snapshotter.h"
#include "solver/cache_store.h"
#include "solver/op_exec.h"
#include "solver/solve.h"
#include "solver/stat_cache.h"
#include "tests/unit/fake_executor.h"
#include "tests/unit/snapshotter_testing.h"

namespace kiln::solver::testing {

namespace fs = std::filesystem;
using kiln::snapshotter::testing::make_tar;
using kiln::snapshotter::testing::TEntry;
using kiln::testing::FakeExecutor;
using kiln::testing::RecordedRun;
using kiln::testing::Script;

class SolverBuildFixture : public ::testing::Test {
  protected:
    SolverBuildFixture()
        : tmp_(fs::temp_directory_path(), "kiln-solver-build-"),
          root_(tmp_.path() / "state"),
          snaps_(snapshotter::open_snapshotter(root_.snapshots(), "native", root_.tmp())),
          cache_(root_.cache() / "steps", root_.blobs()),
          stats_(tmp_.path() / "stat-cache.json"),
          context_(tmp_.path() / "context") {
        fs::create_directories(context_);
        policy_.cache_mounts = tmp_.path() / "cache-mounts";
        policy_.now = "2024-01-01T00:00:00Z";
    }

    // A file in the build context (parents made).
    void context_file(const std::string& rel, const std::string& content) {
        auto p = context_ / rel;
        fs::create_directories(p.parent_path());
        kiln::snapshotter::testing::write(p, content);
    }

    // An image `name` in the store: one layer of `entries`, and `config`.
    void add_image(const std::string& name, const std::vector<TEntry>& entries,
                   content::RunConfig config = {}) {
        auto layer = root_.blobs().put(make_tar(entries));
        content::StoredImage img;
        content::Descriptor d;
        d.media_type = "application/vnd.oci.image.layer.v1.tar";
        d.digest = layer.digest;
        d.size = layer.size;
        img.manifest.layers.push_back(d);
        img.config.os = "linux";
        img.config.architecture = "arm64";
        img.config.config = std::move(config);
        img.config.diff_ids.push_back(layer.digest);
        img.config.history.push_back({"2020-01-01T00:00:00Z", "base layer", "", false});
        // Any stable digest names the image: the manifest is not read.
        img.descriptor.digest = root_.blobs().put("manifest of " + name).digest;
        images_[name] = img;
    }

    // A base image with a shell-less root file system and a PATH.
    void add_base_image(const std::string& name = "base") {
        content::RunConfig c;
        c.env = {"PATH=/usr/bin:/bin", "FROM_BASE=yes"};
        add_image(name,
                  {{.path = "etc/", .mode = AE_IFDIR | 0755},
                   {.path = "etc/passwd",
                    .data = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"},
                   {.path = "etc/group", .data = "root:x:0:\napp:x:1000:\n"},
                   {.path = "bin/", .mode = AE_IFDIR | 0755},
                   {.path = "bin/sh", .mode = AE_IFREG | 0755, .data = "#!fake"},
                   {.path = "base.txt", .data = "from the base\n"}},
                  c);
    }

    frontend::BuildPlan lower_text(const std::string& dockerfile, frontend::LowerOptions lo = {}) {
        lo.source = dockerfile;
        lo.image_settings = [this](const std::string& ref,
                                   const std::string&) -> std::optional<frontend::ImageSettings> {
            auto it = images_.find(ref);
            if (it == images_.end())
                return std::nullopt;
            return from_run_config(it->second.config.config, it->second.config.author);
        };
        return frontend::lower(frontend::parse_dockerfile(dockerfile), lo);
    }

    SolveDeps deps() {
        SolveDeps d;
        d.resolve_image = [this](const std::string& ref,
                                 const std::string&) -> std::optional<content::StoredImage> {
            auto it = images_.find(ref);
            if (it == images_.end())
                return std::nullopt;
            return it->second;
        };
        d.blobs = &root_.blobs();
        d.write_layer = [this](const fs::path& tree, bool overlay_whiteouts, const OmitDir& omit,
                               const LayerHints& hints) {
            return exporter::store_layer_tree(root_, tree, overlay_whiteouts, omit, std::nullopt,
                                              hints);
        };
        d.snapshots = snaps_.get();
        d.executor = &exec_;
        d.cache = &cache_;
        d.stats = &stats_;
        return d;
    }

    // One build of `dockerfile` with the fixture's policy (a fresh work dir each time).
    SolvedImage build(const std::string& dockerfile, frontend::LowerOptions lo = {}) {
        auto plan = lower_text(dockerfile, lo);
        SolvePolicy p = policy_;
        p.context_dir = context_;
        p.work_dir = tmp_.path() / ("work-" + std::to_string(++builds_));
        fs::create_directories(p.work_dir);
        return solve(plan, deps(), p);
    }

    // The message of the kiln::Error a build throws ("" and a failure when none).
    std::string build_error(const std::string& dockerfile) {
        try {
            build(dockerfile);
        } catch (const Error& e) {
            return e.what();
        }
        ADD_FAILURE() << "the build did not fail:\n" << dockerfile;
        return "";
    }

    // The image's file system (its layers applied, bottom first), read-only.
    fs::path tree(const SolvedImage& image) {
        std::vector<std::string> keys;
        std::string chain;
        for (const auto& step : image.steps) {
            if (!step.stored_layer)
                continue;
            chain = content::Digest::of(chain + step.stored_layer->digest.str()).str();
            if (!snaps_->exists("check-" + chain)) {
                auto reader = root_.blobs().reader(step.stored_layer->digest);
                snaps_->apply(
                    "check-" + chain, [&](void* buf, std::size_t n) { return reader.read(buf, n); },
                    "layer");
            }
            keys.push_back("check-" + chain);
        }
        views_.push_back(snaps_->view(keys));
        return views_.back()->root();
    }

    std::string file_in(const SolvedImage& image, const std::string& path) {
        auto p = tree(image) / fs::path(path).relative_path();
        if (!fs::exists(p))
            return "<missing " + path + ">";
        return kiln::snapshotter::testing::read_all(p);
    }

    // Layers the image's own steps made (base layers excluded by count).
    size_t layer_count(const SolvedImage& image) const {
        size_t n = 0;
        for (const auto& s : image.steps)
            n += s.stored_layer.has_value();
        return n;
    }

    std::optional<std::string> config_env(const SolvedImage& image, const std::string& name) {
        for (const auto& e : image.config.config.env)
            if (e.compare(0, name.size() + 1, name + "=") == 0)
                return e.substr(name.size() + 1);
        return std::nullopt;
    }

    static bool is_root() { return ::geteuid() == 0; }

    TempDir tmp_;
    content::StateRoot root_;
    std::unique_ptr<snapshotter::Snapshotter> snaps_;
    CacheStore cache_;
    StatCache stats_;
    fs::path context_;
    FakeExecutor exec_;
    SolvePolicy policy_;
    std::map<std::string, content::StoredImage> images_;
    std::vector<std::unique_ptr<snapshotter::Active>> views_;
    int builds_ = 0;
};

}  // namespace kiln::solver::testing
