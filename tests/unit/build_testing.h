// A whole `kiln build` (build/build.h) through its seams, for unit tests: the
// base image registry.test/base:1 (/etc/os-release, ENV FROM_BASE=yes) in an
// in-memory registry (fake::MemoryRegistry), the native snapshotter, RUN on a
// FakeExecutor. No root, no runc, no network.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "build/build.h"
#include "content/image_store.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "frontend/lower.h"
#include "registry/platform.h"
#include "tests/unit/fake_executor.h"
#include "tests/unit/recording_progress.h"
#include "tests/unit/registry_fake_transport.h"
#include "tests/unit/snapshotter_testing.h"

namespace kiln::build {

class BuildFixture : public ::testing::Test {
  protected:
    BuildFixture() {
        std::filesystem::create_directories(context_);
        // base:1 in the registry: /etc/os-release and an ENV the RUN must see.
        const std::string tar =
            snapshotter::testing::make_tar({{.path = "etc/", .mode = AE_IFDIR | 0755},
                                            {.path = "etc/os-release", .data = "ID=fake\n"}});
        const std::string layer = registry::fake::gzip(tar);
        content::ImageConfig config;
        config.os = "linux";
        config.architecture = registry::host_platform().architecture;
        config.config.env = {"PATH=/usr/bin:/bin", "FROM_BASE=yes"};
        config.diff_ids = {content::Digest::of(tar)};
        const std::string config_json = content::canonical(nlohmann::json(config));
        content::Manifest m;
        m.config = {content::media_type::kOciConfig,
                    content::Digest::of(config_json),
                    static_cast<std::int64_t>(config_json.size()),
                    {},
                    std::nullopt};
        m.layers = {{content::media_type::kOciLayerGzip,
                     content::Digest::of(layer),
                     static_cast<std::int64_t>(layer.size()),
                     {},
                     std::nullopt}};
        registry_->add_blob("base", layer);
        registry_->add_blob("base", config_json);
        registry_->add_manifest("base", "1", content::media_type::kOciManifest,
                                nlohmann::json(m).dump());
    }

    BuildRequest request(const std::string& dockerfile) {
        BuildRequest r;
        r.state_root = tmp_.path() / "root";
        r.context = context_.string();
        r.dockerfile = "-";
        r.dockerfile_text = dockerfile;
        r.snapshotter = "native";
        r.client.transport = registry_;
        r.client.credentials = [](const std::string&) {
            return std::optional<registry::Credentials>();
        };
        r.client.retry =
            registry::RetryPolicy{1, std::chrono::milliseconds(1), std::chrono::milliseconds(1)};
        r.progress = &progress_;
        r.executor = &exec_;
        return r;
    }
    void context_file(const std::string& rel, const std::string& content) {
        std::ofstream(context_ / rel, std::ios::binary) << content;
    }
    content::StoredImage stored(const std::string& name) {
        content::StateRoot root(tmp_.path() / "root");
        auto d = content::ImageStore(root).get(name);
        EXPECT_TRUE(d) << name << " is not in the store";
        return content::read_image(root.blobs(), *d);
    }

    TempDir tmp_{std::filesystem::temp_directory_path(), "kiln-build-test-"};
    std::filesystem::path context_ = tmp_.path() / "context";
    std::shared_ptr<registry::fake::MemoryRegistry> registry_ =
        std::make_shared<registry::fake::MemoryRegistry>();
    kiln::testing::FakeExecutor exec_;
    kiln::testing::RecordingProgress progress_;
};

}  // namespace kiln::build
