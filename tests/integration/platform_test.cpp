// --platform: building for a platform other than this machine's, and for several at
// once (one image index). RUN steps for
// arm64 run under QEMU user emulation (Debian's qemu-user-static, registered in
// binfmt_misc with the F flag), with Debian's busybox-static:arm64 as the foreign
// binary; stages FROM --platform=$BUILDPLATFORM run natively; a RUN for a platform
// nothing here can run is refused before any step starts. Results are read by
// skopeo and umoci, and the busybox inside says what it ran on.
#include <sys/utsname.h>

#include <gtest/gtest.h>

#include <set>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

const fs::path kBinfmt = "/proc/sys/fs/binfmt_misc";

// Where the foreign busybox is kept between runs.
fs::path cache_dir() {
    if (const char* d = std::getenv("KILN_TEST_CACHE"); d && *d)
        return d;
    return "/var/cache/kiln-tests";
}

std::string machine() {
    struct utsname u {};
    ::uname(&u);
    return u.machine;
}

// "" when RUN steps for aarch64 can run here, after mounting binfmt_misc and
// registering qemu-aarch64 from qemu-user-static's binfmt.d file if they are not
// yet; else why not. Test processes run in parallel: the setting up is done under a
// lock, since systemd-binfmt unregisters an entry before registering it again.
std::string arm64_emulation_skip_reason() {
    if (machine() != "x86_64")
        return "the emulation test is written for an x86-64 host";
    const std::string conf = "/usr/lib/binfmt.d/qemu-aarch64.conf";
    if (!fs::exists(kBinfmt / "register") || !fs::exists(kBinfmt / "qemu-aarch64")) {
        const std::string b = kBinfmt.string();
        auto r = run({"flock", "/run/kiln-tests-binfmt.lock", "sh", "-c",
                      "[ -e " + b + "/register ] || mount -t binfmt_misc binfmt_misc " + b +
                          " || exit 3; [ -e " + b + "/qemu-aarch64 ] || [ ! -e " + conf +
                          " ] || /lib/systemd/systemd-binfmt " + conf});
        if (r.exit_code == 3)
            return "binfmt_misc is unavailable here (mount: " + r.err + ")";
        if (!fs::exists(conf))
            return "needs Debian's qemu-user-static (tools/bootstrap.sh installs it)";
        if (r.exit_code != 0)
            return "cannot register qemu-aarch64 in binfmt_misc: " + r.err;
    }
    const std::string entry = slurp(kBinfmt / "qemu-aarch64");
    const auto flags = entry.find("flags: ");
    if (flags == std::string::npos || entry.find('F', flags) == std::string::npos)
        return "qemu-aarch64 is registered without the F flag by someone else";
    return "";
}

class Platform : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
    }

    // Debian's busybox-static for arm64, fetched once (foreign_busybox.sh).
    fs::path arm64_busybox() {
        const fs::path dest = cache_dir() / "busybox-static-arm64";
        auto r = run({KILN_FOREIGN_BUSYBOX, "arm64", dest.string()});
        if (r.exit_code == 77)
            skip_ = "Debian's mirror is unreachable for busybox-static:arm64: " + r.err;
        else
            EXPECT_EQ(r.exit_code, 0) << joined(r);
        return dest;
    }

    // Builds CTX for `platform` into an OCI layout; returns kiln's result.
    Result build(const fs::path& ctx, const std::string& platform, const std::string& layout) {
        std::vector<std::string> argv = {"build", "-t", "p:1"};
        if (!platform.empty())
            argv.insert(argv.end(), {"--platform", platform});
        argv.insert(argv.end(), {"-o", "type=oci,dest=" + (dir / layout).string(), ctx.string()});
        return run_kiln(dir / "root", argv);
    }
    json config(const std::string& layout) {
        return json_of(
            run({"skopeo", "inspect", "--config", "oci:" + (dir / layout).string() + ":1"}));
    }
    fs::path unpack(const std::string& layout) {
        auto bundle = dir / ("bundle-" + layout);
        auto u =
            run({"umoci", "unpack", "--image", (dir / layout).string() + ":1", bundle.string()});
        EXPECT_EQ(u.exit_code, 0) << u.err;
        return bundle / "rootfs";
    }

    Scratch dir;
    std::string skip_;
};

// The same Dockerfile, with the busybox of each platform in its context.
const char* kUname = R"DF(FROM scratch
COPY busybox /bin/busybox
ARG TARGETPLATFORM TARGETARCH BUILDARCH
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch; echo $TARGETPLATFORM $TARGETARCH $BUILDARCH > /args"]
)DF";

}  // namespace

TEST_F(Platform, ARunForArm64RunsUnderEmulationAndTheImageSaysArm64) {
    if (auto why = arm64_emulation_skip_reason(); !why.empty())
        GTEST_SKIP() << why;
    const fs::path busybox = arm64_busybox();
    if (!skip_.empty())
        GTEST_SKIP() << skip_;
    write(dir / "ctx/Dockerfile", kUname);
    fs::copy_file(busybox, dir / "ctx/busybox");
    auto r = build(dir / "ctx", "linux/arm64", "oci");
    ASSERT_EQ(r.exit_code, 0) << joined(r);

    auto c = config("oci");
    EXPECT_EQ(c["architecture"], "arm64") << c.dump();
    EXPECT_EQ(c["os"], "linux");
    EXPECT_FALSE(c.contains("variant")) << c.dump();  // BuildKit writes none for arm64
    auto rootfs = unpack("oci");
    EXPECT_EQ(slurp(rootfs / "arch"), "aarch64\n");
    EXPECT_EQ(slurp(rootfs / "args"), "linux/arm64 arm64 amd64\n");
}

TEST_F(Platform, WithoutTheFlagTheSameDockerfileBuildsForThisMachine) {
    write(dir / "ctx/Dockerfile", kUname);
    fs::copy_file(busybox_path(), dir / "ctx/busybox");
    auto r = build(dir / "ctx", "", "oci");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(config("oci")["architecture"], "amd64");
    auto rootfs = unpack("oci");
    EXPECT_EQ(slurp(rootfs / "arch"), machine() + "\n");
    EXPECT_EQ(slurp(rootfs / "args"), "linux/amd64 amd64 amd64\n");
}

TEST_F(Platform, ACrossCompilationStageRunsNativelyAndTheOutputStageIsForTheTarget) {
    // The build stage runs this machine's busybox (no emulation could run it for
    // arm64: it is an x86-64 binary); the output stage has no RUN.
    write(dir / "ctx/Dockerfile", R"DF(FROM --platform=$BUILDPLATFORM scratch AS build
COPY busybox /bin/busybox
ARG TARGETARCH TARGETOS
RUN ["/bin/busybox", "sh", "-c", "echo built for $TARGETOS/$TARGETARCH on $(/bin/busybox uname -m) > /out"]

FROM scratch
COPY --from=build /out /out
)DF");
    fs::copy_file(busybox_path(), dir / "ctx/busybox");
    auto r = build(dir / "ctx", "linux/s390x", "oci");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(config("oci")["architecture"], "s390x");
    EXPECT_EQ(slurp(unpack("oci") / "out"), "built for linux/s390x on " + machine() + "\n");
}

TEST_F(Platform, AStageWithoutRunNeedsNoEmulation) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
    write(dir / "ctx/f", "x\n");
    auto r = build(dir / "ctx", "linux/arm/v7", "oci");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto c = config("oci");
    EXPECT_EQ(c["architecture"], "arm");
    EXPECT_EQ(c["variant"], "v7");
}

TEST_F(Platform, ARunForAPlatformNothingHereRunsIsRefusedBeforeAnyStepStarts) {
    if (fs::exists(kBinfmt / "qemu-mips64el"))
        GTEST_SKIP() << "this machine emulates mips64le, the platform the test needs it not to";
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\nRUN [\"/f\"]\n");
    write(dir / "ctx/f", "x\n");
    auto r = build(dir / "ctx", "linux/mips64le", "oci");
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("error: Dockerfile:3: RUN for linux/mips64le cannot run here"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("qemu-user-static"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("qemu-mips64el.conf"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("COPY f /f"), std::string::npos) << "a step ran:\n" << r.err;
    EXPECT_FALSE(fs::exists(dir / "oci"));
}

TEST_F(Platform, AMalformedPlatformIsRefusedNamingIt) {
    write(dir / "ctx/Dockerfile", "FROM scratch\n");
    auto bad = build(dir / "ctx", "linux/amd64,linux/", "oci");
    EXPECT_EQ(bad.exit_code, 2);  // a usage error
    EXPECT_NE(bad.err.find("invalid platform \"linux/\""), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(dir / "oci"));
}

TEST_F(Platform, KilnPlatformsListsTheNativeOnesAndEveryUsableEmulator) {
    auto r = run_kiln(dir / "root", {"platforms"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(r.out.rfind("linux/amd64\tnative\n", 0), 0u) << r.out;
    if (arm64_emulation_skip_reason().empty()) {
        EXPECT_NE(
            r.out.find("linux/arm64\temulated by /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"),
            std::string::npos)
            << r.out;
    }
}

namespace {

// Two platforms from one Dockerfile: each platform's own busybox (COPY
// busybox-$TARGETARCH), a RUN that records what it ran on, and a build stage on the
// build platform that runs natively once per target.
const char* kTwoPlatforms = R"DF(FROM --platform=$BUILDPLATFORM scratch AS build
COPY busybox-amd64 /bin/busybox
ARG TARGETARCH
RUN ["/bin/busybox", "sh", "-c", "echo built for $TARGETARCH on $(/bin/busybox uname -m) > /out"]

FROM scratch
ARG TARGETARCH
COPY busybox-$TARGETARCH /bin/busybox
COPY --from=build /out /out
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch"]
)DF";

class MultiPlatform : public Platform {
  protected:
    void SetUp() override {
        Platform::SetUp();
        if (IsSkipped())
            return;
        if (auto why = arm64_emulation_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        const fs::path arm64 = arm64_busybox();
        if (!skip_.empty())
            GTEST_SKIP() << skip_;
        write(dir / "ctx/Dockerfile", kTwoPlatforms);
        fs::copy_file(busybox_path(), dir / "ctx/busybox-amd64");
        fs::copy_file(arm64, dir / "ctx/busybox-arm64");
    }
    Result build_two(const std::vector<std::string>& more) {
        std::vector<std::string> argv = {"build", "--platform", "linux/amd64,linux/arm64"};
        argv.insert(argv.end(), more.begin(), more.end());
        argv.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", argv);
    }
    // One platform of an OCI layout holding an index, copied out by skopeo and
    // unpacked by umoci.
    fs::path unpack_platform(const std::string& src, const std::string& arch) {
        auto one = dir / ("one-" + arch);
        auto c =
            run({"skopeo", "--override-arch", arch, "copy", src, "oci:" + one.string() + ":1"});
        EXPECT_EQ(c.exit_code, 0) << joined(c);
        auto bundle = dir / ("bundle-" + arch);
        auto u = run({"umoci", "unpack", "--image", one.string() + ":1", bundle.string()});
        EXPECT_EQ(u.exit_code, 0) << joined(u);
        return bundle / "rootfs";
    }
};

}  // namespace

TEST_F(MultiPlatform, TwoPlatformsGoToTheRegistryAsOneIndexThatSkopeoCopiesWhole) {
    if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
        GTEST_SKIP() << *why;
    RegistryFixture reg(RegistryMode::plain);
    const std::string name = reg.host() + "/multi/app:1";
    auto r = build_two({"-t", name, "--push", "--metadata-file", (dir / "meta.json").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);

    auto raw =
        json_of(run({"skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + name}));
    EXPECT_EQ(raw["mediaType"], "application/vnd.oci.image.index.v1+json") << raw.dump();
    ASSERT_EQ(raw["manifests"].size(), 2u) << raw.dump();
    EXPECT_EQ(raw["manifests"][0]["platform"], json({{"architecture", "amd64"}, {"os", "linux"}}));
    EXPECT_EQ(raw["manifests"][1]["platform"], json({{"architecture", "arm64"}, {"os", "linux"}}));
    // The pushed index is what the metadata file names (its digest by sha256sum).
    write(dir / "index.json",
          run({"skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + name}).out);
    auto sum = run({"sha256sum", (dir / "index.json").string()});
    auto meta = json::parse(slurp(dir / "meta.json"));
    EXPECT_EQ(meta["containerimage.digest"], "sha256:" + sum.out.substr(0, 64)) << meta.dump();
    EXPECT_FALSE(meta.contains("containerimage.config.digest")) << meta.dump();
    EXPECT_EQ(meta["containerimage.descriptor"],
              json({{"mediaType", "application/vnd.oci.image.index.v1+json"},
                    {"digest", meta["containerimage.digest"]},
                    {"size", fs::file_size(dir / "index.json")}}))
        << meta.dump();

    // Each manifest's config says its platform.
    for (const std::string arch : {"amd64", "arm64"}) {
        auto c = json_of(run({"skopeo", "--override-arch", arch, "inspect", "--tls-verify=false",
                              "--config", "docker://" + name}));
        EXPECT_EQ(c["architecture"], arch) << c.dump();
    }
    // skopeo copies every platform back out; umoci unpacks each.
    auto all = run({"skopeo", "copy", "--all", "--src-tls-verify=false", "docker://" + name,
                    "oci:" + (dir / "pulled").string() + ":1"});
    ASSERT_EQ(all.exit_code, 0) << joined(all);
    const std::string pulled = "oci:" + (dir / "pulled").string() + ":1";
    const auto arm64 = unpack_platform(pulled, "arm64");
    EXPECT_EQ(slurp(arm64 / "arch"), "aarch64\n");
    EXPECT_EQ(slurp(arm64 / "out"), "built for arm64 on x86_64\n");
    const auto amd64 = unpack_platform(pulled, "amd64");
    EXPECT_EQ(slurp(amd64 / "arch"), "x86_64\n");
    EXPECT_EQ(slurp(amd64 / "out"), "built for amd64 on x86_64\n");
}

TEST_F(MultiPlatform, AnOciLayoutHoldsTheIndexAndEachPlatformsImage) {
    auto r = build_two({"-t", "multi:1", "-o", "type=oci,dest=" + (dir / "oci").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto index = json::parse(slurp(dir / "oci/index.json"));
    ASSERT_EQ(index["manifests"].size(), 1u);
    EXPECT_EQ(index["manifests"][0]["mediaType"], "application/vnd.oci.image.index.v1+json");
    EXPECT_TRUE(blobs_not_their_names(dir / "oci").empty());
    const std::string layout = "oci:" + (dir / "oci").string() + ":1";
    EXPECT_EQ(slurp(unpack_platform(layout, "arm64") / "arch"), "aarch64\n");
    EXPECT_EQ(slurp(unpack_platform(layout, "amd64") / "arch"), "x86_64\n");
    // Progress names each platform's steps, as BuildKit does.
    EXPECT_NE(r.err.find("[linux/arm64 stage-1 3/3] RUN"), std::string::npos) << r.err;
}

TEST_F(MultiPlatform, TheStoreNamesTheIndexAndAFromPicksEachPlatformsImage) {
    auto r = build_two({"-t", "multi:1"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto images = run_kiln(dir / "root", {"images"});
    EXPECT_NE(images.out.find("linux/amd64,linux/arm64"), std::string::npos) << images.out;
    auto inspect = json_of(run_kiln(dir / "root", {"inspect", "multi:1"}));
    ASSERT_EQ(inspect["Platforms"].size(), 2u) << inspect.dump();
    EXPECT_EQ(inspect["Platforms"][1]["Platform"], "linux/arm64");
    // skopeo reads the store's name as the index.
    auto raw =
        json_of(run({"skopeo", "inspect", "--raw", "oci:" + (dir / "root").string() + ":multi:1"}));
    EXPECT_EQ(raw["manifests"].size(), 2u) << raw.dump();

    write(dir / "next/Dockerfile",
          "FROM multi:1\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox uname -m > "
          "/again\"]\n");
    auto next = run_kiln(dir / "root",
                         {"build", "--platform", "linux/arm64,linux/amd64", "-o",
                          "type=local,dest=" + (dir / "local").string(), (dir / "next").string()});
    ASSERT_EQ(next.exit_code, 0) << joined(next);
    EXPECT_EQ(slurp(dir / "local/linux_arm64/again"), "aarch64\n");
    EXPECT_EQ(slurp(dir / "local/linux_arm64/arch"), "aarch64\n");
    EXPECT_EQ(slurp(dir / "local/linux_amd64/again"), "x86_64\n");

    // COPY --from=<image> takes the stage's platform's image too.
    write(dir / "copy/Dockerfile", "FROM scratch\nCOPY --from=multi:1 /arch /copied\n");
    auto copy = run_kiln(dir / "root",
                         {"build", "--platform", "linux/arm64,linux/amd64", "-o",
                          "type=local,dest=" + (dir / "copied").string(), (dir / "copy").string()});
    ASSERT_EQ(copy.exit_code, 0) << joined(copy);
    EXPECT_EQ(slurp(dir / "copied/linux_arm64/copied"), "aarch64\n");
    EXPECT_EQ(slurp(dir / "copied/linux_amd64/copied"), "x86_64\n");

    // kiln push sends the index and both images.
    if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
        GTEST_SKIP() << *why;
    RegistryFixture reg(RegistryMode::plain);
    auto push = run_kiln(dir / "root", {"push", "multi:1", reg.host() + "/pushed/multi:1"});
    ASSERT_EQ(push.exit_code, 0) << joined(push);
    auto pushed = json_of(run({"skopeo", "inspect", "--tls-verify=false", "--raw",
                               "docker://" + reg.host() + "/pushed/multi:1"}));
    EXPECT_EQ(pushed["manifests"].size(), 2u) << pushed.dump();
    auto arm = json_of(run({"skopeo", "--override-arch", "arm64", "inspect", "--tls-verify=false",
                            "--config", "docker://" + reg.host() + "/pushed/multi:1"}));
    EXPECT_EQ(arm["architecture"], "arm64") << arm.dump();
}

TEST_F(MultiPlatform, ABuildStageThatDoesNotUseTheTargetRunsOnceForAllPlatforms) {
    write(dir / "ctx/Dockerfile", R"DF(FROM --platform=$BUILDPLATFORM scratch AS build
COPY busybox-amd64 /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "echo $$ > /pid"]
FROM scratch
COPY --from=build /pid /pid
)DF");
    auto r = build_two({"-o", "type=local,dest=" + (dir / "local").string(), "--metadata-file",
                        (dir / "meta.json").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto meta = json::parse(slurp(dir / "meta.json"));
    EXPECT_EQ(meta["kiln.steps.run"], 4) << r.err;  // COPY, RUN, and one COPY per platform
    EXPECT_EQ(slurp(dir / "local/linux_amd64/pid"), slurp(dir / "local/linux_arm64/pid"));
}

TEST_F(MultiPlatform, DockerArchiveOutputOfSeveralPlatformsIsRefusedBeforeAnyStep) {
    auto r = build_two({"-o", "type=docker,dest=" + (dir / "img.tar").string()});
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("-o type=docker cannot hold several platforms"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("RUN"), std::string::npos) << "a step ran:\n" << r.err;
    EXPECT_FALSE(fs::exists(dir / "img.tar"));
}

// As BuildKit transfers a context once for every platform: the two platforms' COPY
// of the same sources read each file once between them.
TEST_F(MultiPlatform, TheContextIsReadOnceForAllPlatforms) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
    auto r = build_two({"-o", "type=local,dest=" + (dir / "local").string(), "--metadata-file",
                        (dir / "meta.json").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto meta = json::parse(slurp(dir / "meta.json"));
    // Dockerfile, busybox-amd64, busybox-arm64.
    EXPECT_EQ(meta["kiln.context.files_read"], 3) << meta.dump();
    EXPECT_EQ(meta["kiln.steps.run"], 2) << r.err;  // one COPY per platform
    EXPECT_EQ(slurp(dir / "local/linux_arm64/ctx/Dockerfile"), "FROM scratch\nCOPY . /ctx/\n");
    EXPECT_TRUE(fs::exists(dir / "local/linux_amd64/ctx/busybox-arm64"));
}

// A two-platform build's --cache-to serves both platforms to an empty store: every
// step is a hit and the index is the same one; a step both platforms share is one
// record in the exported cache.
TEST_F(MultiPlatform, ItsExportedCacheServesBothPlatformsInAnEmptyStore) {
    const std::string cache = (dir / "cache").string();
    auto a = build_two({"--cache-to", "type=local,dest=" + cache + ",mode=max", "-t", "multi:1",
                        "-o", "type=oci,dest=" + (dir / "oci-a").string()});
    ASSERT_EQ(a.exit_code, 0) << joined(a);
    // skopeo's --config drops what it does not know: the config blob as the layout holds it.
    auto manifest = json_of(run({"skopeo", "inspect", "--raw", "oci:" + cache + ":latest"}));
    const std::string config_digest = manifest["config"]["digest"];
    auto config = json::parse(slurp(dir / "cache/blobs/sha256" / config_digest.substr(7)));
    const auto& records = config["kiln.cache"]["records"];
    std::set<std::string> keys;
    for (const auto& rec : records)
        keys.insert(rec["key"].get<std::string>());
    EXPECT_EQ(keys.size(), records.size()) << "a record is repeated: " << config.dump();
    // The build stage's COPY (shared), its RUN (it reads TARGETARCH) and the
    // output stage's three steps, for each platform.
    EXPECT_EQ(records.size(), 9u) << config.dump();

    auto b =
        run_kiln(dir / "root-b", {"build", "--platform", "linux/amd64,linux/arm64", "--cache-from",
                                  "type=local,src=" + cache, "-t", "multi:1", "-o",
                                  "type=oci,dest=" + (dir / "oci-b").string(), "--metadata-file",
                                  (dir / "meta-b.json").string(), (dir / "ctx").string()});
    ASSERT_EQ(b.exit_code, 0) << joined(b);
    auto meta = json::parse(slurp(dir / "meta-b.json"));
    EXPECT_EQ(meta["kiln.steps.run"], 0) << b.err;
    auto index_a = json::parse(slurp(dir / "oci-a/index.json"));
    auto index_b = json::parse(slurp(dir / "oci-b/index.json"));
    EXPECT_EQ(index_b["manifests"][0]["digest"], index_a["manifests"][0]["digest"]);
    const std::string layout = "oci:" + (dir / "oci-b").string() + ":1";
    EXPECT_EQ(slurp(unpack_platform(layout, "arm64") / "arch"), "aarch64\n");
}

// gc sees through a name that holds an index: prune keeps every platform's
// manifest, config and layers while the name stands, and frees them once it goes.
TEST_F(MultiPlatform, PruneKeepsEveryPlatformOfANamedIndexAndFreesThemAfterRmi) {
    auto r = build_two({"-t", "multi:1"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    const std::string name = "oci:" + (dir / "root").string() + ":multi:1";
    auto arm = run({"skopeo", "--override-arch", "arm64", "inspect", "--raw", name});
    ASSERT_EQ(arm.exit_code, 0) << joined(arm);
    write(dir / "arm-manifest.json", arm.out);
    const std::string arm_manifest =
        run({"sha256sum", (dir / "arm-manifest.json").string()}).out.substr(0, 64);

    auto prune = run_kiln(dir / "root", {"prune", "-a", "-f"});
    ASSERT_EQ(prune.exit_code, 0) << joined(prune);
    auto all = run({"skopeo", "copy", "--all", name, "oci:" + (dir / "copy").string() + ":1"});
    EXPECT_EQ(all.exit_code, 0) << "prune removed part of a named index: " << joined(all);
    EXPECT_TRUE(fs::exists(dir / "root/blobs/sha256" / arm_manifest));

    ASSERT_EQ(run_kiln(dir / "root", {"rmi", "multi:1"}).exit_code, 0);
    prune = run_kiln(dir / "root", {"prune", "-a", "-f"});
    ASSERT_EQ(prune.exit_code, 0) << joined(prune);
    EXPECT_FALSE(fs::exists(dir / "root/blobs/sha256" / arm_manifest));
}

// A stage that names an image of another platform, without --platform, runs that
// image's binaries: BuildKit's InvalidBaseImagePlatform warning says so, and its RUN
// goes through emulation.
TEST_F(Platform, ABaseImageOfAnotherPlatformIsNamedInAWarningAndItsRunIsEmulated) {
    if (auto why = arm64_emulation_skip_reason(); !why.empty())
        GTEST_SKIP() << why;
    const fs::path busybox = arm64_busybox();
    if (!skip_.empty())
        GTEST_SKIP() << skip_;
    write(dir / "base/Dockerfile", "FROM scratch\nCOPY busybox /bin/busybox\n");
    fs::copy_file(busybox, dir / "base/busybox");
    auto base = run_kiln(dir / "root", {"build", "--platform", "linux/arm64", "-t", "armbase:1",
                                        (dir / "base").string()});
    ASSERT_EQ(base.exit_code, 0) << joined(base);

    write(dir / "ctx/Dockerfile",
          "FROM armbase:1\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox uname -m > "
          "/arch\"]\n");
    auto r = run_kiln(dir / "root", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                     (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("Dockerfile:1: InvalidBaseImagePlatform: Base image armbase:1 was pulled "
                         "with platform \"linux/arm64\", expected \"linux/amd64\" for current "
                         "build"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(slurp(dir / "out/arch"), "aarch64\n");
}
