// push_image against an in-memory registry (fake::MemoryRegistry): which
// blobs are skipped, mounted or uploaded, and how manifests are put.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/error.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/blob_sources.h"
#include "registry/push.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
namespace mt = content::media_type;
using content::Descriptor;
using content::Digest;

class RegistryPush : public ::testing::Test {
  protected:
    std::shared_ptr<fake::MemoryRegistry> registry = std::make_shared<fake::MemoryRegistry>();
    TempDir dir{fs::temp_directory_path(), "kiln-push-"};
    content::StateRoot root{dir.path() / "root"};
    const content::BlobStore& blobs = root.blobs();

    // One image in the store, in registry form (a gzip layer).
    struct Image {
        std::string layer, config, manifest;
        Descriptor desc;
        Digest layer_digest() const { return Digest::of(layer); }
        Digest config_digest() const { return Digest::of(config); }
    };
    Image store_image(const std::string& arch, const std::string& manifest_type = mt::kOciManifest,
                      const std::string& config_type = mt::kOciConfig,
                      const std::string& layer_type = mt::kOciLayerGzip) {
        Image img;
        const std::string tar = "hello-" + arch + std::string(300, '\0');
        img.layer = fake::gzip(tar);
        content::ImageConfig config;
        config.os = "linux";
        config.architecture = arch;
        config.diff_ids = {Digest::of(tar)};
        img.config = content::canonical(nlohmann::json(config));
        content::Manifest m;
        m.media_type = manifest_type;
        m.config = {config_type,
                    blobs.put(img.config).digest,
                    static_cast<std::int64_t>(img.config.size()),
                    {},
                    std::nullopt};
        m.layers = {{layer_type,
                     blobs.put(img.layer).digest,
                     static_cast<std::int64_t>(img.layer.size()),
                     {},
                     std::nullopt}};
        img.manifest = content::canonical(nlohmann::json(m));
        img.desc = {manifest_type,
                    blobs.put(img.manifest).digest,
                    static_cast<std::int64_t>(img.manifest.size()),
                    {},
                    std::nullopt};
        return img;
    }

    PushOptions options() {
        PushOptions o;
        o.client.transport = registry;
        o.client.retry = RetryPolicy{2, std::chrono::milliseconds(1), std::chrono::milliseconds(2)};
        o.client.credentials = [](const std::string&) { return std::optional<Credentials>(); };
        return o;
    }
    PushResult push(const Descriptor& d, const std::string& ref,
                    const std::optional<PushOptions>& o = std::nullopt) {
        return push_image(root, d, parse_reference(ref), o ? *o : options());
    }
    // Index in sent() of the first request with `method` whose URL contains `part`.
    std::ptrdiff_t position(const std::string& method, const std::string& part) {
        auto sent = registry->sent();
        for (std::size_t i = 0; i < sent.size(); ++i) {
            if (sent[i].method == method && sent[i].url.find(part) != std::string::npos) {
                return static_cast<std::ptrdiff_t>(i);
            }
        }
        return -1;
    }
    int uploads() { return registry->count("PUT", "/blobs/uploads/"); }
};

TEST_F(RegistryPush, BlobsTheRegistryHasAreNotUploaded) {
    auto img = store_image("amd64");
    registry->add_blob("app", img.layer);
    registry->add_blob("app", img.config);
    auto r = push(img.desc, "registry.test/app:v1");
    auto sent = registry->sent();
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0].method, "HEAD");
    EXPECT_EQ(sent[1].method, "HEAD");
    EXPECT_EQ(sent[2].method, "PUT");
    EXPECT_EQ(sent[2].url, "https://registry.test/v2/app/manifests/v1");
    EXPECT_EQ(r.stats.existing, 2);
    EXPECT_EQ(r.stats.uploaded, 0);
    EXPECT_EQ(r.stats.mounted, 0);
}

TEST_F(RegistryPush, MissingBlobsUploaded) {
    auto img = store_image("amd64");
    registry->add_blob("app", img.config);  // only the layer is missing
    auto r = push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(r.stats.uploaded, 1);
    EXPECT_EQ(r.stats.existing, 1);
    EXPECT_EQ(uploads(), 1);
    EXPECT_EQ(registry->blobs["app"][img.layer_digest().str()], img.layer);
}

TEST_F(RegistryPush, EverythingUploadedToAnEmptyRegistry) {
    auto img = store_image("amd64");
    auto r = push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(r.stats.uploaded, 2);
    EXPECT_EQ(registry->blobs["app"][img.layer_digest().str()], img.layer);
    EXPECT_EQ(registry->blobs["app"][img.config_digest().str()], img.config);
    EXPECT_EQ(registry->count("POST", "mount="), 0);
    // The manifest goes last, after every blob.
    auto sent = registry->sent();
    EXPECT_EQ(sent.back().method, "PUT");
    EXPECT_NE(sent.back().url.find("/manifests/"), std::string::npos);
    EXPECT_EQ(registry->count("PUT", "/manifests/"), 1);
}

TEST_F(RegistryPush, ManifestPutUnderTheTagWithItsMediaType) {
    auto img = store_image("amd64");
    auto r = push(img.desc, "registry.test/app:v1");
    auto sent = registry->sent();
    const auto& put = sent.back();
    EXPECT_EQ(put.url, "https://registry.test/v2/app/manifests/v1");
    EXPECT_EQ(put.header("Content-Type"), mt::kOciManifest);
    EXPECT_EQ(put.body, img.manifest);
    EXPECT_EQ(r.digest, img.desc.digest);
    EXPECT_EQ(r.size, img.desc.size);
    EXPECT_EQ(registry->manifests["app"]["v1"].bytes, img.manifest);
}

TEST_F(RegistryPush, DockerManifestPutWithDockerMediaType) {
    auto img = store_image("amd64", mt::kDockerManifest, mt::kDockerConfig, mt::kDockerLayerGzip);
    push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(registry->sent().back().header("Content-Type"), mt::kDockerManifest);
    EXPECT_EQ(registry->manifests["app"]["v1"].media_type, mt::kDockerManifest);
}

TEST_F(RegistryPush, BlobKnownInAnotherRepositoryIsMounted) {
    auto img = store_image("amd64");
    registry->add_blob("base/img", img.layer);
    record_blob_source(root, img.layer_digest(), "registry.test", "base/img");
    auto r = push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(r.stats.mounted, 1);
    EXPECT_EQ(r.stats.uploaded, 1);  // the config
    EXPECT_EQ(registry->count("POST", "mount=sha256%3A" + std::string(img.layer_digest().hex()) +
                                          "&from=base%2Fimg"),
              1);
    // Only the config's bytes were sent.
    EXPECT_EQ(uploads(), 1);
    for (const auto& s : registry->sent()) {
        EXPECT_NE(s.body, img.layer) << s.method << " " << s.url;
    }
    EXPECT_EQ(registry->blobs["app"][img.layer_digest().str()], img.layer);
}

TEST_F(RegistryPush, SourceOfAnotherRegistryNotMounted) {
    auto img = store_image("amd64");
    record_blob_source(root, img.layer_digest(), "other.test", "base/img");
    auto r = push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(registry->count("POST", "mount="), 0);
    EXPECT_EQ(r.stats.uploaded, 2);
}

TEST_F(RegistryPush, SourceInTheSameRepositoryNotMounted) {
    auto img = store_image("amd64");
    record_blob_source(root, img.layer_digest(), "registry.test", "app");
    push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(registry->count("POST", "mount="), 0);
}

TEST_F(RegistryPush, DeclinedMountFallsBackToUpload) {
    auto img = store_image("amd64");
    registry->allow_mounts = false;
    registry->add_blob("base/img", img.layer);
    record_blob_source(root, img.layer_digest(), "registry.test", "base/img");
    auto r = push(img.desc, "registry.test/app:v1");
    EXPECT_EQ(registry->count("POST", "mount="), 1);
    EXPECT_EQ(registry->count("DELETE", "/blobs/uploads/"), 1);  // the session it opened
    EXPECT_EQ(r.stats.mounted, 0);
    EXPECT_EQ(r.stats.uploaded, 2);
    EXPECT_EQ(registry->blobs["app"][img.layer_digest().str()], img.layer);
    ASSERT_TRUE(registry->manifests["app"].count("v1"));
}

TEST_F(RegistryPush, PushedBlobsRecordedAsSources) {
    auto img = store_image("amd64");
    push(img.desc, "registry.test/team/app:v1");
    EXPECT_EQ(blob_sources(root, img.layer_digest(), "registry.test"),
              std::vector<std::string>{"team/app"});
}

TEST_F(RegistryPush, ByDigestPutsNoTag) {
    auto img = store_image("amd64");
    auto o = options();
    o.by_digest = true;
    auto r = push(img.desc, "registry.test/app:v1", o);
    EXPECT_EQ(r.digest, img.desc.digest);
    EXPECT_EQ(registry->sent().back().url,
              "https://registry.test/v2/app/manifests/" + img.desc.digest.str());
    EXPECT_EQ(registry->count("PUT", "/manifests/v1"), 0);
    EXPECT_FALSE(registry->manifests["app"].count("v1"));
}

TEST_F(RegistryPush, ReferenceWithAnotherDigestRefused) {
    auto img = store_image("amd64");
    EXPECT_THROW(push(img.desc, "registry.test/app@" + Digest::of("other").str()), Error);
    EXPECT_EQ(registry->count("PUT"), 0);
}

TEST_F(RegistryPush, BlobMissingLocallyNamedAndNoManifestPut) {
    auto img = store_image("amd64");
    fs::remove(blobs.path(img.layer_digest()));
    try {
        push(img.desc, "registry.test/app:v1");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(img.layer_digest().str()), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(registry->count("PUT", "/manifests/"), 0);
    EXPECT_FALSE(registry->manifests["app"].count("v1"));
}

TEST_F(RegistryPush, IndexPushesChildrenByDigestFirst) {
    auto amd = store_image("amd64");
    auto arm = store_image("arm64");
    content::Index idx;
    auto child = [](const Image& img, content::Platform p) {
        Descriptor d = img.desc;
        d.platform = p;
        return d;
    };
    idx.manifests = {child(amd, {"amd64", "linux", ""}), child(arm, {"arm64", "linux", "v8"})};
    const std::string index = content::canonical(nlohmann::json(idx));
    Descriptor top{mt::kOciIndex,
                   blobs.put(index).digest,
                   static_cast<std::int64_t>(index.size()),
                   {},
                   std::nullopt};

    auto r = push(top, "registry.test/app:multi");
    EXPECT_EQ(r.digest, top.digest);
    const auto amd_put = position("PUT", "/manifests/" + amd.desc.digest.str());
    const auto arm_put = position("PUT", "/manifests/" + arm.desc.digest.str());
    const auto index_put = position("PUT", "/manifests/multi");
    ASSERT_GE(amd_put, 0);
    ASSERT_GE(arm_put, 0);
    ASSERT_GE(index_put, 0);
    EXPECT_LT(amd_put, index_put);
    EXPECT_LT(arm_put, index_put);
    EXPECT_EQ(registry->count("PUT", "/manifests/"), 3);
    // Each child's blobs went before it.
    for (const auto* img : {&amd, &arm}) {
        const auto child_put = position("PUT", "/manifests/" + img->desc.digest.str());
        for (const auto& d : {img->layer_digest(), img->config_digest()}) {
            auto up = position("PUT", "digest=sha256%3A" + std::string(d.hex()));
            ASSERT_GE(up, 0);
            EXPECT_LT(up, child_put);
        }
    }
    EXPECT_EQ(registry->manifests["app"]["multi"].bytes, index);
    EXPECT_EQ(registry->manifests["app"]["multi"].media_type, mt::kOciIndex);
    EXPECT_EQ(registry->sent().back().header("Content-Type"), mt::kOciIndex);
}

}  // namespace
}  // namespace kiln::registry
