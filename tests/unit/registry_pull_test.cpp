// pull_image against an in-memory registry (fake::MemoryRegistry): what the
// store holds afterwards, and what it must not hold when a pull fails.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "base/error.h"
#include "content/image_store.h"
#include "content/layer_twins.h"
#include "content/oci.h"
#include "content/state_root.h"
#include "content/temp_dir.h"
#include "registry/blob_sources.h"
#include "registry/pull.h"
#include "tests/unit/registry_fake_transport.h"

namespace kiln::registry {
namespace {

namespace fs = std::filesystem;
namespace mt = content::media_type;
using content::Digest;

// A one-layer image as a registry holds it.
struct TinyImage {
    std::string tar;    // the layer, uncompressed
    std::string layer;  // its gzip
    std::string config;
    std::string manifest;

    Digest diff_id() const { return Digest::of(tar); }
    Digest layer_digest() const { return Digest::of(layer); }
    Digest config_digest() const { return Digest::of(config); }
    Digest manifest_digest() const { return Digest::of(manifest); }
};

TinyImage make_image(const std::string& arch, const std::string& file_content,
                     std::vector<Digest> diff_ids = {}) {
    TinyImage img;
    img.tar = "hello.txt\n" + file_content + std::string(200, '\0');
    img.layer = fake::gzip(img.tar);
    content::ImageConfig config;
    config.os = "linux";
    config.architecture = arch;
    config.diff_ids = diff_ids.empty() ? std::vector<Digest>{img.diff_id()} : diff_ids;
    img.config = content::canonical(nlohmann::json(config));
    content::Manifest m;
    m.config = {mt::kOciConfig,
                img.config_digest(),
                static_cast<std::int64_t>(img.config.size()),
                {},
                std::nullopt};
    m.layers = {{mt::kOciLayerGzip,
                 img.layer_digest(),
                 static_cast<std::int64_t>(img.layer.size()),
                 {},
                 std::nullopt}};
    // As a registry may serve it: not kiln's canonical form, so a test sees
    // that the bytes are kept as served.
    img.manifest = nlohmann::json(m).dump(2);
    return img;
}

class RegistryPull : public ::testing::Test {
  protected:
    std::shared_ptr<fake::MemoryRegistry> registry = std::make_shared<fake::MemoryRegistry>();
    TempDir dir{fs::temp_directory_path(), "kiln-pull-"};
    content::StateRoot root{dir.path() / "root"};
    const content::BlobStore& blobs = root.blobs();

    PullOptions options() {
        PullOptions o;
        o.client.transport = registry;
        o.client.retry = RetryPolicy{2, std::chrono::milliseconds(1), std::chrono::milliseconds(2)};
        o.client.credentials = [](const std::string&) { return std::optional<Credentials>(); };
        return o;
    }
    // Serves an amd64 image of these layers (gzip) as app:v1.
    std::pair<content::ImageConfig, content::Manifest> serve_layers(
        const std::vector<std::string>& tars) {
        content::ImageConfig config;
        config.os = "linux";
        config.architecture = "amd64";
        content::Manifest m;
        for (const auto& tar : tars) {
            config.diff_ids.push_back(Digest::of(tar));
            const std::string gz = fake::gzip(tar);
            m.layers.push_back({mt::kOciLayerGzip,
                                registry->add_blob("app", gz),
                                static_cast<std::int64_t>(gz.size()),
                                {},
                                std::nullopt});
        }
        const std::string cfg = content::canonical(nlohmann::json(config));
        m.config = {mt::kOciConfig,
                    registry->add_blob("app", cfg),
                    static_cast<std::int64_t>(cfg.size()),
                    {},
                    std::nullopt};
        registry->add_manifest("app", "v1", mt::kOciManifest,
                               content::canonical(nlohmann::json(m)));
        return {config, m};
    }
    // Serves `img`'s blobs in `repo`, and its manifest under `tag` when given.
    void serve(const TinyImage& img, const std::string& repo = "app",
               const std::string& tag = "v1") {
        registry->add_blob(repo, img.layer);
        registry->add_blob(repo, img.config);
        registry->add_manifest(repo, tag, mt::kOciManifest, img.manifest);
    }
    std::optional<content::Descriptor> named(const std::string& name) {
        return content::ImageStore(root).get(name);
    }
    int blob_gets() { return registry->count("GET", "/blobs/"); }
};

TEST_F(RegistryPull, StoresTheImageUnderItsName) {
    auto img = make_image("amd64", "one");
    serve(img);
    auto ref = parse_reference("registry.test/app:v1");
    auto r = pull_image(root, ref, options());
    EXPECT_EQ(r.name, store_name(ref));
    EXPECT_FALSE(r.up_to_date);
    EXPECT_FALSE(r.index_digest);
    auto d = named(store_name(ref));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->digest, img.manifest_digest());
    EXPECT_EQ(d->media_type, mt::kOciManifest);
    EXPECT_EQ(d->size, static_cast<std::int64_t>(img.manifest.size()));
    EXPECT_EQ(r.descriptor.digest, img.manifest_digest());
}

TEST_F(RegistryPull, ManifestBytesKeptExactlyAsServed) {
    auto img = make_image("amd64", "one");
    serve(img);
    pull_image(root, parse_reference("registry.test/app:v1"), options());
    EXPECT_EQ(blobs.read_all(img.manifest_digest()), img.manifest);
    EXPECT_EQ(blobs.read_all(img.config_digest()), img.config);
    EXPECT_EQ(blobs.read_all(img.layer_digest()), img.layer);
}

TEST_F(RegistryPull, LayerGetsItsUncompressedTwinAndTwinRecord) {
    auto img = make_image("amd64", "one");
    serve(img);
    pull_image(root, parse_reference("registry.test/app:v1"), options());
    EXPECT_EQ(blobs.read_all(img.diff_id()), img.tar);
    auto twin = content::find_layer_twin(root, img.diff_id(), "gzip--1");
    ASSERT_TRUE(twin);
    EXPECT_EQ(twin->digest, img.layer_digest());
    EXPECT_EQ(twin->size, static_cast<std::int64_t>(img.layer.size()));
}

TEST_F(RegistryPull, BlobSourcesRecorded) {
    auto img = make_image("amd64", "one");
    serve(img, "team/app");
    pull_image(root, parse_reference("registry.test/team/app:v1"), options());
    using Repos = std::vector<std::string>;
    EXPECT_EQ(blob_sources(root, img.layer_digest(), "registry.test"), Repos{"team/app"});
    EXPECT_EQ(blob_sources(root, img.config_digest(), "registry.test"), Repos{"team/app"});
    EXPECT_EQ(blob_sources(root, img.layer_digest(), "other.test"), Repos{});
}

TEST_F(RegistryPull, ByDigestNamedByDigest) {
    auto img = make_image("amd64", "one");
    serve(img);
    auto ref = parse_reference("registry.test/app@" + img.manifest_digest().str());
    auto r = pull_image(root, ref, options());
    EXPECT_EQ(r.name, "registry.test/app@" + img.manifest_digest().str());
    ASSERT_TRUE(named(r.name));
    EXPECT_EQ(named(r.name)->digest, img.manifest_digest());
}

class RegistryPullIndex : public RegistryPull {
  protected:
    TinyImage amd = make_image("amd64", "for amd64");
    TinyImage arm = make_image("arm64", "for arm64");
    std::string index;

    void SetUp() override {
        serve(amd, "app", "");
        serve(arm, "app", "");
        content::Index idx;
        idx.manifests = {
            {mt::kOciManifest,
             amd.manifest_digest(),
             static_cast<std::int64_t>(amd.manifest.size()),
             {},
             content::Platform{"amd64", "linux", ""}},
            {mt::kOciManifest,
             arm.manifest_digest(),
             static_cast<std::int64_t>(arm.manifest.size()),
             {},
             content::Platform{"arm64", "linux", "v8"}},
        };
        index = content::canonical(nlohmann::json(idx));
        registry->add_manifest("app", "multi", mt::kOciIndex, index);
    }
};

TEST_F(RegistryPullIndex, NarrowedToTheRequestedPlatform) {
    auto o = options();
    o.platform = parse_platform("linux/arm64");
    auto r = pull_image(root, parse_reference("registry.test/app:multi"), o);
    EXPECT_EQ(r.descriptor.digest, arm.manifest_digest());
    ASSERT_TRUE(r.index_digest);
    EXPECT_EQ(*r.index_digest, Digest::of(index));
    ASSERT_TRUE(named("registry.test/app:multi"));
    EXPECT_EQ(named("registry.test/app:multi")->digest, arm.manifest_digest());
    EXPECT_EQ(blobs.read_all(arm.diff_id()), arm.tar);
    // Nothing of the other platform was fetched.
    EXPECT_EQ(registry->count("GET", amd.manifest_digest().str()), 0);
    EXPECT_EQ(registry->count("GET", amd.layer_digest().str()), 0);
    EXPECT_FALSE(blobs.has(amd.layer_digest()));
}

TEST_F(RegistryPullIndex, DefaultsToTheHostPlatform) {
#if !defined(__x86_64__)
    GTEST_SKIP() << "expects an amd64 host";
#endif
    auto r = pull_image(root, parse_reference("registry.test/app:multi"), options());
    EXPECT_EQ(r.descriptor.digest, amd.manifest_digest());
    EXPECT_FALSE(blobs.has(arm.layer_digest()));
}

TEST_F(RegistryPullIndex, MissingPlatformNamedInError) {
    auto o = options();
    o.platform = parse_platform("linux/s390x");
    try {
        pull_image(root, parse_reference("registry.test/app:multi"), o);
        FAIL() << "pulled an image for a platform the index lacks";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux/s390x"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(named("registry.test/app:multi"));
    EXPECT_EQ(blob_gets(), 0);
}

TEST_F(RegistryPull, SeveralLayersInParallelEachGetTheirTwin) {
    std::vector<std::string> tars;
    for (int i = 0; i < 7; ++i)
        tars.push_back("layer " + std::to_string(i) + std::string(100 + i, '\0'));
    const content::Manifest m = serve_layers(tars).second;
    auto o = options();
    o.jobs = 3;
    pull_image(root, parse_reference("registry.test/app:v1"), o);
    for (std::size_t i = 0; i < tars.size(); ++i) {
        EXPECT_EQ(blobs.read_all(Digest::of(tars[i])), tars[i]) << "layer " << i;
        auto twin = content::find_layer_twin(root, Digest::of(tars[i]), "gzip--1");
        ASSERT_TRUE(twin) << "layer " << i;
        EXPECT_EQ(twin->digest, m.layers[i].digest);
    }
    EXPECT_TRUE(named("registry.test/app:v1"));
}

// What one-pass pulls hand to PullOptions::unpack, per layer index.
struct Unpacked {
    std::mutex mu;
    std::map<std::size_t, std::string> tars;  // read to the (verified) end
    std::map<std::size_t, std::string> errors;
    std::map<std::size_t, std::string> keys;  // chain IDs, from the diffIDs given

    auto unpacker() {
        return [this](std::size_t i, const std::vector<Digest>& diff_ids, const LayerReader& read) {
            std::string key;
            for (std::size_t j = 0; j <= i; ++j)
                key = content::chain_id(key, diff_ids[j]);
            std::string bytes;
            char buf[512];
            try {
                while (std::size_t n = read(buf, sizeof buf))
                    bytes.append(buf, n);
            } catch (const Error& e) {
                std::lock_guard lock(mu);
                errors[i] = e.what();
                throw;
            }
            std::lock_guard lock(mu);
            tars[i] = bytes;
            keys[i] = key;
        };
    }
};

TEST_F(RegistryPull, OnePassHandsEachLayerToTheUnpackerAsItDownloads) {
    std::vector<std::string> tars;
    for (int i = 0; i < 4; ++i)
        tars.push_back("layer " + std::to_string(i) + std::string(70'000 + i, 'x'));
    const content::ImageConfig config = serve_layers(tars).first;
    Unpacked seen;
    auto o = options();
    o.jobs = 2;
    o.unpack = seen.unpacker();
    pull_image(root, parse_reference("registry.test/app:v1"), o);
    ASSERT_EQ(seen.tars.size(), tars.size());
    std::string chain;
    for (std::size_t i = 0; i < tars.size(); ++i) {
        EXPECT_EQ(seen.tars[i], tars[i]) << "layer " << i;
        chain = content::chain_id(chain, config.diff_ids[i]);
        EXPECT_EQ(seen.keys[i], chain) << "layer " << i;
        EXPECT_EQ(blobs.read_all(config.diff_ids[i]), tars[i]) << "layer " << i;
        EXPECT_TRUE(content::find_layer_twin(root, config.diff_ids[i], "gzip--1"));
    }
    EXPECT_TRUE(seen.errors.empty());
    EXPECT_TRUE(named("registry.test/app:v1"));
}

TEST_F(RegistryPull, OnePassUnpackerNeverSeesTheEndOfALayerThatIsNotItsDiffId) {
    auto img = make_image("amd64", "one", {Digest::of("not this layer")});
    serve(img);
    Unpacked seen;
    auto o = options();
    o.unpack = seen.unpacker();
    try {
        pull_image(root, parse_reference("registry.test/app:v1"), o);
        FAIL() << "a layer that is not its diffID was accepted";
    } catch (const Error& e) {
        // The two-pass path's message: the same as without one-pass pulls.
        EXPECT_NE(std::string(e.what()).find("is not the diffID"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(seen.tars.empty());
    EXPECT_EQ(seen.errors.size(), 1u);
    EXPECT_FALSE(named("registry.test/app:v1"));
}

TEST_F(RegistryPull, OnePassUnpackerFailingDoesNotFailThePull) {
    auto img = make_image("amd64", "one");
    serve(img);
    auto o = options();
    o.unpack = [](std::size_t, const std::vector<Digest>&, const LayerReader&) {
        throw Error("no room for snapshots");
    };
    pull_image(root, parse_reference("registry.test/app:v1"), o);
    EXPECT_TRUE(named("registry.test/app:v1"));
    EXPECT_EQ(blobs.read_all(img.diff_id()), img.tar);
}

TEST_F(RegistryPull, OnePassAfterADroppedConnectionResumesTheSameStream) {
    // The registry's first answer breaks off after a third of the layer; the
    // client resumes with Range, and the unpacker reads one stream throughout.
    auto img = make_image("amd64", std::string(40'000, 'r'));
    serve(img);
    registry->cut_first_blob_get_after(img.layer_digest().str(), img.layer.size() / 3);
    Unpacked seen;
    auto o = options();
    o.unpack = seen.unpacker();
    pull_image(root, parse_reference("registry.test/app:v1"), o);
    EXPECT_EQ(seen.tars[0], img.tar);
    EXPECT_TRUE(seen.errors.empty());
    EXPECT_EQ(registry->count("GET", img.layer_digest().str()), 2);
}

TEST_F(RegistryPull, OnePassFallsBackWhenTheDownloadStartsOver) {
    // A registry that ignores Range sends the layer again from byte 0: the
    // unpacker's stream is broken off, and the twin is made from the blob.
    auto img = make_image("amd64", std::string(40'000, 's'));
    serve(img);
    registry->honour_range = false;
    registry->cut_first_blob_get_after(img.layer_digest().str(), img.layer.size() / 3);
    Unpacked seen;
    auto o = options();
    o.unpack = seen.unpacker();
    pull_image(root, parse_reference("registry.test/app:v1"), o);
    EXPECT_TRUE(seen.tars.empty());
    EXPECT_EQ(seen.errors.size(), 1u);
    EXPECT_EQ(blobs.read_all(img.diff_id()), img.tar);
    EXPECT_TRUE(named("registry.test/app:v1"));
}

TEST_F(RegistryPull, SecondPullIsUpToDateWithoutBlobRequests) {
    auto img = make_image("amd64", "one");
    serve(img);
    auto ref = parse_reference("registry.test/app:v1");
    EXPECT_FALSE(pull_image(root, ref, options()).up_to_date);
    EXPECT_GT(blob_gets(), 0);
    registry->clear_sent();
    auto again = pull_image(root, ref, options());
    EXPECT_TRUE(again.up_to_date);
    EXPECT_EQ(again.descriptor.digest, img.manifest_digest());
    EXPECT_EQ(blob_gets(), 0);
    EXPECT_EQ(registry->count("HEAD", "/blobs/"), 0);
}

TEST_F(RegistryPull, LayersAlreadyInTheStoreNotFetchedAgain) {
    // Another tag of the same image: only manifest and config are new to the name.
    auto img = make_image("amd64", "one");
    serve(img);
    registry->add_manifest("app", "v2", mt::kOciManifest, img.manifest);
    pull_image(root, parse_reference("registry.test/app:v1"), options());
    registry->clear_sent();
    auto r = pull_image(root, parse_reference("registry.test/app:v2"), options());
    EXPECT_FALSE(r.up_to_date);
    EXPECT_EQ(registry->count("GET", img.layer_digest().str()), 0);
    ASSERT_TRUE(named("registry.test/app:v2"));
}

TEST_F(RegistryPull, DiffIdCountDifferentFromLayersRefused) {
    auto img = make_image("amd64", "one", {Digest::of("a"), Digest::of("b")});
    serve(img);
    try {
        pull_image(root, parse_reference("registry.test/app:v1"), options());
        FAIL();
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("diffID"), std::string::npos) << msg;
        EXPECT_NE(msg.find(img.manifest_digest().str()), std::string::npos) << msg;
    }
    EXPECT_FALSE(named("registry.test/app:v1"));
    EXPECT_FALSE(blobs.has(img.manifest_digest()));
}

TEST_F(RegistryPull, WrongDiffIdRefusedAndNothingNamed) {
    auto img = make_image("amd64", "one", {Digest::of("not this layer")});
    serve(img);
    EXPECT_THROW(pull_image(root, parse_reference("registry.test/app:v1"), options()), Error);
    EXPECT_FALSE(named("registry.test/app:v1"));
    EXPECT_FALSE(blobs.has(Digest::of("not this layer")));
    EXPECT_FALSE(content::find_layer_twin(root, Digest::of("not this layer"), "gzip--1"));
}

TEST_F(RegistryPull, CorruptLayerRefusedAndNotStored) {
    auto img = make_image("amd64", "one");
    serve(img);
    // The registry serves other bytes under the layer's digest.
    std::string bad = img.layer;
    bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 1);
    registry->blobs["app"][img.layer_digest().str()] = bad;
    try {
        pull_image(root, parse_reference("registry.test/app:v1"), options());
        FAIL();
    } catch (const Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("digest mismatch"), std::string::npos) << msg;
        EXPECT_NE(msg.find(img.layer_digest().str()), std::string::npos) << msg;
    }
    EXPECT_FALSE(named("registry.test/app:v1"));
    EXPECT_FALSE(blobs.has(img.layer_digest()));
    EXPECT_FALSE(blobs.has(Digest::of(bad)));
    EXPECT_FALSE(blobs.has(img.diff_id()));
    EXPECT_FALSE(blobs.has(img.manifest_digest()));
}

TEST_F(RegistryPull, FailedPullKeepsThePreviousName) {
    auto old_img = make_image("amd64", "old");
    serve(old_img);
    pull_image(root, parse_reference("registry.test/app:v1"), options());
    auto new_img = make_image("amd64", "new");
    registry->add_blob("app", new_img.config);  // its layer is missing
    registry->add_manifest("app", "v1", mt::kOciManifest, new_img.manifest);
    EXPECT_THROW(pull_image(root, parse_reference("registry.test/app:v1"), options()), Error);
    ASSERT_TRUE(named("registry.test/app:v1"));
    EXPECT_EQ(named("registry.test/app:v1")->digest, old_img.manifest_digest());
}

TEST_F(RegistryPull, Schema1Refused) {
    registry->add_manifest("app", "old",
                           "application/vnd.docker.distribution.manifest.v1+prettyjws",
                           R"({"schemaVersion":1,"name":"app","tag":"old","fsLayers":[]})");
    try {
        pull_image(root, parse_reference("registry.test/app:old"), options());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("schema 1"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(named("registry.test/app:old"));
}

TEST_F(RegistryPull, ImageForAnotherPlatformRefusedWhenOneIsAsked) {
    auto img = make_image("arm64", "one");
    serve(img);
    auto o = options();
    o.platform = parse_platform("linux/amd64");
    try {
        pull_image(root, parse_reference("registry.test/app:v1"), o);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("linux/amd64"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(named("registry.test/app:v1"));
}

TEST_F(RegistryPull, UnknownTagNamed) {
    try {
        pull_image(root, parse_reference("registry.test/app:nope"), options());
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace kiln::registry
