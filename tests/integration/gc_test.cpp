// kiln prune, kiln du and the automatic collection after builds, on a real
// store, checked with du(1), sha256sum, skopeo and umoci.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <thread>

#include "harness.h"
#include "registry_fixture.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

class Gc : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        root = dir / "root";
        auto r = build_busybox_base(root, dir / "base");
        ASSERT_EQ(r.exit_code, 0) << r.err;
    }

    // Builds `dockerfile` (FROM base:1 ...) in its own context named `name`.
    Result build(const std::string& name, const std::string& dockerfile,
                 std::vector<std::string> args = {}) {
        write(dir / ("ctx-" + name) / "Dockerfile", dockerfile);
        std::vector<std::string> argv = {"build", "--progress", "plain"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back((dir / ("ctx-" + name)).string());
        return run_kiln(root, argv);
    }

    static int cached_steps(const Result& r) {
        int n = 0;
        std::istringstream in(r.err);
        for (std::string line; std::getline(in, line);)
            n += line.ends_with(" CACHED");
        return n;
    }

    std::vector<std::string> names_in(const fs::path& d) {
        std::vector<std::string> out;
        if (fs::exists(d))
            for (const auto& e : fs::directory_iterator(d))
                out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }

    // Committed snapshots (not their tmp/ and locks/).
    std::size_t snapshot_count() {
        std::size_t n = 0;
        for (const auto& name : names_in(root / "snapshots/overlayfs"))
            n += name != "tmp" && name != "locks";
        for (const auto& name : names_in(root / "snapshots/native"))
            n += name != "tmp" && name != "locks";
        return n;
    }

    // The store's size as du(1) sees it.
    std::int64_t du_bytes() {
        auto r = run({"du", "-s", "-B1", root.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return std::stoll(r.out);
    }

    void expect_blobs_are_their_names() {
        EXPECT_EQ(blobs_not_their_names(root), std::vector<std::string>{});
    }

    // skopeo reads the image and umoci unpacks it (so every blob it names is
    // there and whole); `file` in it holds `content`.
    void expect_image_intact(const std::string& name, const std::string& file = "",
                             const std::string& content = "") {
        auto inspect = run({"skopeo", "inspect", "oci:" + root.string() + ":" + name});
        EXPECT_EQ(inspect.exit_code, 0) << name << ": " << inspect.err;
        const fs::path bundle = dir / ("unpack-" + std::to_string(unpacked++));
        auto unpack =
            run({"umoci", "unpack", "--image", root.string() + ":" + name, bundle.string()});
        ASSERT_EQ(unpack.exit_code, 0) << name << ": " << unpack.err;
        if (!file.empty()) {
            EXPECT_EQ(slurp(bundle / "rootfs" / file), content) << name;
        }
    }

    Scratch dir;
    fs::path root;
    int unpacked = 0;
};

TEST_F(Gc, DuListsWhatTheStoreHoldsByKind) {
    ASSERT_EQ(build("a", "FROM base:1\nRUN echo a > /a\n", {"-t", "app:1"}).exit_code, 0);
    auto du = run_kiln(root, {"du"});
    ASSERT_EQ(du.exit_code, 0) << du.err;
    for (const char* row : {"image blobs", "snapshots", "cache records", "cache mounts",
                            "stat caches", "temporary", "Total:", "Reclaimable:"})
        EXPECT_NE(du.out.find(row), std::string::npos) << row << " missing:\n" << du.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(du.out, m, std::regex("cache records +([0-9]+) "))) << du.out;
    EXPECT_GT(std::stoi(m[1]), 0);
    auto verbose = run_kiln(root, {"du", "--verbose"});
    ASSERT_EQ(verbose.exit_code, 0) << verbose.err;
    EXPECT_NE(verbose.out.find("cache record: RUN echo a > /a"), std::string::npos) << verbose.out;
    EXPECT_NE(verbose.out.find("(named image)"), std::string::npos) << verbose.out;
}

TEST_F(Gc, PruneRemovesBuildCacheAndKeepsNamedImagesWhole) {
    ASSERT_EQ(build("a", "FROM base:1\nRUN head -c 1000000 /dev/urandom > /a && echo A > /name\n",
                    {"-t", "app:1"})
                  .exit_code,
              0);
    auto unnamed = build("b", "FROM base:1\nRUN head -c 1000000 /dev/urandom > /b\n");
    ASSERT_EQ(unnamed.exit_code, 0) << unnamed.err;
    const std::string unnamed_manifest = unnamed.out.substr(7, 64);  // "sha256:<hex>\n"
    ASSERT_TRUE(fs::exists(root / "blobs/sha256" / unnamed_manifest)) << unnamed.out;

    // --dry-run says what would go and removes nothing.
    const auto blobs_before = names_in(root / "blobs/sha256");
    const auto records_before = names_in(root / "cache/steps");
    auto dry = run_kiln(root, {"prune", "--dry-run"});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("Would reclaim:"), std::string::npos) << dry.out;
    EXPECT_EQ(names_in(root / "blobs/sha256"), blobs_before);
    EXPECT_EQ(names_in(root / "cache/steps"), records_before);

    const std::int64_t before = du_bytes();
    auto p = run_kiln(root, {"prune", "-f"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("Total:"), std::string::npos) << p.out;
    EXPECT_LT(du_bytes(), before - 2000000) << "the unnamed image's layer and snapshot remain";
    EXPECT_EQ(names_in(root / "cache/steps"), std::vector<std::string>{});
    EXPECT_FALSE(fs::exists(root / "blobs/sha256" / unnamed_manifest));
    expect_blobs_are_their_names();
    expect_image_intact("app:1", "name", "A\n");
    expect_image_intact("base:1");
    EXPECT_GT(snapshot_count(), 0u) << "a prune without --all keeps named images' snapshots";

    // --all also takes the named images' snapshots; the images stay whole,
    // and a build on them unpacks them again.
    auto all = run_kiln(root, {"prune", "--all", "-f"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_EQ(snapshot_count(), 0u);
    expect_image_intact("app:1", "name", "A\n");
    auto again = build("c", "FROM app:1\nRUN cat /name > /copy\n", {"-t", "app:2"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    expect_image_intact("app:2", "copy", "A\n");
}

TEST_F(Gc, FilterUntilKeepsWhatWasUsedWithinIt) {
    ASSERT_EQ(build("old", "FROM base:1\nRUN echo old > /old\n").exit_code, 0);
    // Two days pass for everything built so far.
    auto aged = run({"find", root.string(), "-exec", "touch", "-h", "-d", "2 days ago", "{}", "+"});
    ASSERT_EQ(aged.exit_code, 0) << aged.err;
    ASSERT_EQ(build("new", "FROM base:1\nRUN echo new > /new\n").exit_code, 0);
    auto p = run_kiln(root, {"prune", "-f", "--filter", "until=24h"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("RUN echo old > /old"), std::string::npos) << p.out;
    EXPECT_EQ(p.out.find("RUN echo new > /new"), std::string::npos) << p.out;
    auto new_again = build("new", "FROM base:1\nRUN echo new > /new\n");
    EXPECT_EQ(cached_steps(new_again), 1) << new_again.err;
    auto old_again = build("old", "FROM base:1\nRUN echo old > /old\n");
    EXPECT_EQ(cached_steps(old_again), 0) << old_again.err;

    auto bad = run_kiln(root, {"prune", "-f", "--filter", "label=x"});
    EXPECT_EQ(bad.exit_code, 2);  // a usage error
    EXPECT_NE(bad.err.find("--filter label=x: unknown filter"), std::string::npos) << bad.err;
    auto bad_duration = run_kiln(root, {"prune", "-f", "--filter", "until=soon"});
    EXPECT_EQ(bad_duration.exit_code, 2);
    EXPECT_NE(bad_duration.err.find("invalid duration \"soon\""), std::string::npos)
        << bad_duration.err;
}

TEST_F(Gc, CacheMountsStayUnlessAsked) {
    ASSERT_EQ(
        build("m", "FROM base:1\nRUN --mount=type=cache,target=/c echo kept > /c/f && echo > /x\n")
            .exit_code,
        0);
    ASSERT_EQ(names_in(root / "cache/mounts").empty(), false);
    ASSERT_EQ(run_kiln(root, {"prune", "-f", "--all"}).exit_code, 0);
    EXPECT_FALSE(names_in(root / "cache/mounts").empty()) << "a prune took a cache mount";
    auto p = run_kiln(root, {"prune", "-f", "--cache-mounts"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("cache mount"), std::string::npos) << p.out;
    EXPECT_EQ(names_in(root / "cache/mounts"), std::vector<std::string>{});
    EXPECT_EQ(names_in(root / "tmp"), std::vector<std::string>{});
}

TEST_F(Gc, APulledImageStaysWholeAndPushesBackAfterAPruneAll) {
    if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
        GTEST_SKIP() << *why;
    RegistryFixture reg(RegistryMode::plain);
    ASSERT_EQ(build("p", "FROM base:1\nRUN head -c 500000 /dev/urandom > /p && echo P > /name\n",
                    {"-t", "pushed:1"})
                  .exit_code,
              0);
    const std::string remote = reg.host() + "/gc/pushed:1";
    auto push = run_kiln(root, {"push", "pushed:1", remote, "--insecure-registry", reg.host()});
    ASSERT_EQ(push.exit_code, 0) << push.err;

    // Another store pulls it: gzip layers as the registry holds them, their
    // uncompressed twins, where they came from.
    const fs::path other = dir / "other";
    auto pull = run_kiln(other, {"pull", remote, "--insecure-registry", reg.host()});
    ASSERT_EQ(pull.exit_code, 0) << pull.err;
    root = other;
    auto p = run_kiln(root, {"prune", "--all", "-f", "--cache-mounts"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    expect_image_intact(remote, "name", "P\n");
    expect_blobs_are_their_names();
    auto du = run_kiln(root, {"du"});
    EXPECT_TRUE(std::regex_search(du.out, std::regex("Reclaimable:\\s+0B"))) << du.out;
    // Pushed on from there: the kept gzip blobs are what goes.
    auto again = run_kiln(
        root, {"push", remote, reg.host() + "/gc/again:1", "--insecure-registry", reg.host()});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    std::vector<std::string> copy = {"skopeo", "copy"};
    for (const auto& a : reg.skopeo_args(SkopeoRole::source))
        copy.push_back(a);
    copy.push_back(reg.skopeo_ref("gc/again:1"));
    copy.push_back("oci:" + (dir / "copied").string() + ":again");
    auto copied = run(copy);
    EXPECT_EQ(copied.exit_code, 0) << copied.err;
}

TEST_F(Gc, PruningACacheMountWithLinksOutLeavesTheHostAlone) {
    // A RUN leaves links in its cache mount pointing at host paths; du walks
    // it and prune removes it without following any of them.
    const fs::path host = dir / "host";
    write(host / "keep.txt", "host data");
    ASSERT_EQ(build("l", "FROM base:1\nRUN --mount=type=cache,target=/c ln -s " + host.string() +
                             " /c/dir && ln -s " + (host / "keep.txt").string() +
                             " /c/file && mkdir /c/sub && ln -s / /c/sub/root && echo > /x\n")
                  .exit_code,
              0);
    auto mounts = names_in(root / "cache/mounts");
    auto dir_it = std::find_if(mounts.begin(), mounts.end(),
                               [](const std::string& n) { return !n.ends_with(".lock"); });
    ASSERT_NE(dir_it, mounts.end());
    ASSERT_TRUE(fs::is_symlink(root / "cache/mounts" / *dir_it / "file")) << "no link was made";
    auto du = run_kiln(root, {"du", "--verbose"});
    ASSERT_EQ(du.exit_code, 0) << du.err;
    auto p = run_kiln(root, {"prune", "-f", "--cache-mounts"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(names_in(root / "cache/mounts"), std::vector<std::string>{});
    EXPECT_EQ(slurp(host / "keep.txt"), "host data");
    EXPECT_EQ(names_in(host), std::vector<std::string>{"keep.txt"});
}

TEST_F(Gc, APruneTakesBlobsQuarantinedAsCorrupt) {
    // Where a read that found a blob corrupt moved it (content/blob_store.h).
    write(root / "tmp" / ("corrupt-" + std::string(64, 'a')), std::string(10000, 'x'));
    auto du = run_kiln(root, {"du"});
    ASSERT_EQ(du.exit_code, 0) << du.err;
    EXPECT_TRUE(std::regex_search(du.out, std::regex("corrupt blobs +1 "))) << du.out;
    auto p = run_kiln(root, {"prune", "-f"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("corrupt blob"), std::string::npos) << p.out;
    EXPECT_EQ(names_in(root / "tmp"), std::vector<std::string>{});
}

TEST_F(Gc, ASmallKeepStorageKeepsTheStoreUnderItAndTheNewestRebuildsFromCache) {
    const std::int64_t limit = 12 << 20;
    std::string newest;
    for (int i = 0; i < 10; ++i) {
        newest = "FROM base:1\nRUN head -c 1500000 /dev/urandom > /data && echo " +
                 std::to_string(i) + " > /n\nRUN echo second > /second\n";
        auto r = build("gc", newest, {"-t", "app:latest", "--gc-keep-storage", "12MB"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        // du(1) counts what kiln does (allocated blocks), and directories.
        EXPECT_LE(du_bytes(), limit + (256 << 10)) << "after build " << i;
        if (i >= 4) {
            EXPECT_NE(r.err.find("[internal] garbage collection"), std::string::npos)
                << "build " << i << ": " << r.err;
        }
    }
    auto again = build("gc", newest, {"-t", "app:latest"});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(cached_steps(again), 2) << again.err;
    expect_image_intact("app:latest", "n", "9\n");
    expect_image_intact("base:1");
    expect_blobs_are_their_names();

    // KILN_GC_KEEP_STORAGE sets the same limit; a malformed one is refused up front.
    auto bad =
        run_kiln(root, {"build", (dir / "ctx-gc").string()}, {{"KILN_GC_KEEP_STORAGE", "lots"}});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("invalid size \"lots\""), std::string::npos) << bad.err;
}

TEST_F(Gc, FourBuildsAndAPruneAllAtOnceOnOneRoot) {
    write_random(dir / "ctx-shared/big.bin", 4 << 20, 3);
    std::vector<std::future<Result>> builds;
    for (int i = 0; i < 4; ++i) {
        const fs::path ctx = dir / ("ctx-c" + std::to_string(i));
        fs::create_directories(ctx);
        fs::copy_file(dir / "ctx-shared/big.bin", ctx / "big.bin");
        write(ctx / "Dockerfile", "FROM base:1\nCOPY big.bin /big.bin\nRUN sleep 1 && echo " +
                                      std::to_string(i) + " > /n\nRUN wc -c < /big.bin > /size\n");
        builds.push_back(std::async(std::launch::async, [this, ctx, i] {
            return run_kiln(root, {"build", "--progress", "plain", "-t",
                                   "c" + std::to_string(i) + ":1", ctx.string()});
        }));
    }
    // While they run (COPY done, RUN sleeping): a prune without the lease
    // would take their layers and snapshots from under them.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    auto prune = std::async(std::launch::async, [this] {
        return run_kiln(root, {"prune", "--all", "-f"});
    });
    for (auto& b : builds) {
        auto r = b.get();
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    auto p = prune.get();
    EXPECT_EQ(p.exit_code, 0) << p.err;
    for (int i = 0; i < 4; ++i)
        expect_image_intact("c" + std::to_string(i) + ":1", "n", std::to_string(i) + "\n");
    expect_blobs_are_their_names();
    // And once more after them all: the images still are.
    ASSERT_EQ(run_kiln(root, {"prune", "--all", "-f"}).exit_code, 0);
    for (int i = 0; i < 4; ++i)
        expect_image_intact("c" + std::to_string(i) + ":1", "size", "4194304\n");
}

}  // namespace
}  // namespace kiln::test
