// buildx's --build-context NAME=VALUE: a directory, docker-image://REF, a git or
// tarball URL (served on loopback) and target:STAGE, read by FROM NAME, COPY
// --from=NAME and RUN --mount from=NAME with BuildKit's precedence (a named
// context of a stage's name replaces the stage; a stage of a name comes before
// a context of it; an image name matches in its familiar form). Results are
// read from -o type=local directories and, for images, with skopeo.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class NamedContext : public ::testing::Test {
  protected:
    // kiln build -o type=local,dest=DIR/out with `args` before the context DIR/ctx.
    Result build(const std::vector<std::string>& args) {
        fs::remove_all(dir / "out");
        std::vector<std::string> all = {"build", "--progress", "plain", "-o",
                                        "type=local,dest=" + (dir / "out").string()};
        all.insert(all.end(), args.begin(), args.end());
        all.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", all);
    }
    void dockerfile(const std::string& text) { write(dir / "ctx/Dockerfile", text); }
    std::string context_flag(const std::string& name, const fs::path& path) {
        return name + "=" + path.string();
    }
    Scratch dir;
};

}  // namespace

TEST_F(NamedContext, CopyFromADirectoryHonoursItsOwnDockerignoreAndItsChanges) {
    write(dir / "extra/a.txt", "one\n");
    write(dir / "extra/secret.key", "no\n");
    write(dir / "extra/.dockerignore", "*.key\n");
    dockerfile("FROM scratch\nCOPY --from=extra . /got/\n");
    auto r = build({"--build-context", context_flag("extra", dir / "extra")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/got/a.txt"), "one\n");
    EXPECT_FALSE(fs::exists(dir / "out/got/secret.key"));

    // Unchanged: a cache hit. Changed: the step runs again with the new content.
    r = build({"--build-context", context_flag("extra", dir / "extra")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("CACHED"), std::string::npos) << r.err;
    write(dir / "extra/a.txt", "two\n");
    r = build({"--build-context", context_flag("extra", dir / "extra")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/got/a.txt"), "two\n");
}

TEST_F(NamedContext, FromADirectoryStartsWithItsFilesOwnedByRoot) {
    write(dir / "tree/etc/motd", "hi\n");
    ASSERT_EQ(::chown((dir / "tree/etc/motd").c_str(), 1234, 1234), 0);
    dockerfile("FROM tree\nCOPY Dockerfile /added\n");
    auto r = build({"--build-context", context_flag("tree", dir / "tree")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/etc/motd"), "hi\n");
    EXPECT_TRUE(fs::exists(dir / "out/added"));
    struct stat st {};
    ASSERT_EQ(::lstat((dir / "out/etc/motd").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(NamedContext, AContextOfAStagesNameReplacesTheStage) {
    write(dir / "pinned/marker", "pinned\n");
    // Were the stage built, its COPY of a missing file would fail the build.
    dockerfile(
        "FROM scratch AS deps\nCOPY missing.txt /\n"
        "FROM scratch\nCOPY --from=deps /marker /marker\n");
    auto r = build({"--build-context", context_flag("deps", dir / "pinned")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/marker"), "pinned\n");
    EXPECT_EQ(r.err.find("missing.txt"), std::string::npos) << r.err;
}

TEST_F(NamedContext, AStageComesBeforeAContextThatIsNotItsName) {
    // COPY --from=deps names the stage; the context "other" is for another name.
    write(dir / "other/marker", "context\n");
    dockerfile(
        "FROM scratch AS deps\nCOPY Dockerfile /marker\nFROM scratch\n"
        "COPY --from=deps /marker /from-stage\nCOPY --from=other /marker /from-context\n");
    auto r = build({"--build-context", context_flag("other", dir / "other")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/from-stage"), slurp(dir / "ctx/Dockerfile"));
    EXPECT_EQ(slurp(dir / "out/from-context"), "context\n");
}

TEST_F(NamedContext, TargetNamesAnEarlierStage) {
    dockerfile(
        "FROM scratch AS real\nCOPY Dockerfile /real\n"
        "FROM alias\nCOPY --from=alias /real /copied\n");
    auto r = build({"--build-context", "alias=target:real"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_TRUE(fs::exists(dir / "out/real"));
    EXPECT_TRUE(fs::exists(dir / "out/copied"));

    dockerfile("FROM alias\nFROM scratch AS real\n");
    r = build({"--build-context", "alias=target:real"});
    EXPECT_EQ(r.exit_code, 1) << joined(r);
    EXPECT_NE(r.err.find("Dockerfile:1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("target:real must name a stage defined before"), std::string::npos)
        << r.err;
}

TEST_F(NamedContext, DockerImagePinsAnImageByItsFamiliarName) {
    auto base = build_busybox_base(dir / "root", dir / "base", "pinned:1", "COPY m /m\n",
                                   {{"m", "from the pinned image\n"}});
    ASSERT_EQ(base.exit_code, 0) << joined(base);
    // No registry is reachable for these names: only the named context can serve them.
    dockerfile(
        "FROM docker.io/library/nosuchimage:latest\n"
        "COPY --from=nosuchimage /m /copied\n");
    auto r = build({"--build-context", "nosuchimage=docker-image://pinned:1"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/m"), "from the pinned image\n");
    EXPECT_EQ(slurp(dir / "out/copied"), "from the pinned image\n");
    EXPECT_TRUE(fs::exists(dir / "out/bin/busybox"));
}

TEST_F(NamedContext, RunMountsADirectoryContext) {
    if (auto why = run_skip_reason(); !why.empty())
        GTEST_SKIP() << why;
    auto base = build_busybox_base(dir / "root", dir / "base");
    ASSERT_EQ(base.exit_code, 0) << joined(base);
    write(dir / "src/input.txt", "mounted\n");
    write(dir / "src/secret.key", "no\n");
    write(dir / "src/.dockerignore", "*.key\n");
    dockerfile(
        "FROM base:1\nRUN --mount=from=src,target=/src cp /src/input.txt /out.txt && "
        "cp -r /src /seen\n");
    auto r = build({"--build-context", context_flag("src", dir / "src")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/out.txt"), "mounted\n");
    // The context's own .dockerignore hides its key, as COPY --from=src would.
    EXPECT_TRUE(fs::exists(dir / "out/seen/input.txt"));
    EXPECT_FALSE(fs::exists(dir / "out/seen/secret.key"));
    // The mount's content is in the step's key.
    write(dir / "src/input.txt", "changed\n");
    r = build({"--build-context", context_flag("src", dir / "src")});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/out.txt"), "changed\n");
}

TEST_F(NamedContext, TarballAndGitUrlsAreFetched) {
    write(dir / "pkg/lib.txt", "from a tarball\n");
    fs::create_directories(dir / "www");
    ASSERT_EQ(
        run({"tar", "-C", (dir / "pkg").string(), "-czf", (dir / "www/pkg.tar.gz").string(), "."})
            .exit_code,
        0);
    const bool git = have_tool("git");
    if (git) {  // a repository served with git's dumb HTTP protocol
        write(dir / "work/sub/lib.txt", "from git\n");
        auto g = make_git_repo(dir / "work", dir / "www/repo.git");
        ASSERT_EQ(g.exit_code, 0) << joined(g);
    }
    HttpServer server(dir / "www", dir / "port");
    ASSERT_NE(server.port(), 0);
    dockerfile(git ? "FROM scratch\nCOPY --from=pkg lib.txt /pkg.txt\n"
                     "COPY --from=repo lib.txt /git.txt\n"
                   : "FROM scratch\nCOPY --from=pkg lib.txt /pkg.txt\n");
    std::vector<std::string> args = {"--build-context", "pkg=" + server.url("pkg.tar.gz")};
    if (git)
        args.insert(args.end(),
                    {"--build-context", "repo=" + server.url("repo.git") + "#main:sub"});
    auto r = build(args);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/pkg.txt"), "from a tarball\n");
    if (git) {
        EXPECT_EQ(slurp(dir / "out/git.txt"), "from git\n");
    }
    // Fetched contexts are removed with the build.
    for (const auto& e : fs::directory_iterator(dir / "root/tmp"))
        ADD_FAILURE() << "left in tmp: " << e.path();
}

TEST_F(NamedContext, BadSpecsAreUsageErrors) {
    dockerfile("FROM scratch\n");
    for (const auto& [spec, words] : std::vector<std::pair<std::string, std::string>>{
             {"novalue", "expected NAME=VALUE"},
             {"=x", "expected NAME=VALUE"},
             {"a=", "the value is empty"},
             {"a=" + (dir / "nowhere").string(), "is not a directory"},
             {"a=docker-image://", "names no image"},
             {"a=target:", "names no stage"},
             {"scratch=target:x", "reserved name"},
         }) {
        auto r = build({"--build-context", spec});
        EXPECT_EQ(r.exit_code, 2) << spec << "\n" << joined(r);
        EXPECT_NE(r.err.find(words), std::string::npos) << spec << "\n" << r.err;
        EXPECT_NE(r.err.find("--build-context"), std::string::npos) << r.err;
    }
    auto twice = build({"--build-context", "a=target:x", "--build-context", "A=target:y"});
    EXPECT_EQ(twice.exit_code, 2) << joined(twice);
    EXPECT_NE(twice.err.find("given twice"), std::string::npos) << twice.err;
}

TEST_F(NamedContext, OciLayoutByTagOrDigestIntoAnEmptyStore) {
    // The layout, written by kiln into another store, holds a gzip-compressed image.
    write(dir / "img/Dockerfile", "FROM scratch\nCOPY m /m\nENV FROM_LAYOUT=1\n");
    write(dir / "img/m", "from the layout\n");
    auto made = run_kiln(dir / "other-root",
                         {"build", "-t", "lib:v1", "-o",
                          "type=oci,dest=" + (dir / "layout").string(), (dir / "img").string()});
    ASSERT_EQ(made.exit_code, 0) << joined(made);
    dockerfile("FROM lib\nCOPY --from=lib /m /copied\n");
    auto r = build({"--build-context", "lib=oci-layout://" + (dir / "layout").string() + ":v1"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/m"), "from the layout\n");
    EXPECT_EQ(slurp(dir / "out/copied"), "from the layout\n");

    auto index = nlohmann::json::parse(slurp(dir / "layout/index.json"));
    const std::string by_digest = index["manifests"][0]["digest"];
    r = build(
        {"--build-context", "lib=oci-layout://" + (dir / "layout").string() + "@" + by_digest});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/copied"), "from the layout\n");

    auto missing =
        build({"--build-context", "lib=oci-layout://" + (dir / "layout").string() + ":v2"});
    EXPECT_EQ(missing.exit_code, 1) << joined(missing);
    EXPECT_NE(missing.err.find("no image v2"), std::string::npos) << missing.err;
    auto not_layout = build({"--build-context", "lib=oci-layout://" + (dir / "img").string()});
    EXPECT_EQ(not_layout.exit_code, 2) << joined(not_layout);
    EXPECT_NE(not_layout.err.find("is not an OCI image layout"), std::string::npos)
        << not_layout.err;
    // A blob that is not what its name says is refused, naming the layout.
    const std::string config = nlohmann::json::parse(
        slurp(dir / "layout/blobs/sha256" / by_digest.substr(7)))["config"]["digest"];
    write(dir / "layout/blobs/sha256" / config.substr(7), "{}");
    fs::remove_all(dir / "root");
    auto corrupt =
        build({"--build-context", "lib=oci-layout://" + (dir / "layout").string() + ":v1"});
    EXPECT_EQ(corrupt.exit_code, 1) << joined(corrupt);
    EXPECT_NE(corrupt.err.find("does not match its digest"), std::string::npos) << corrupt.err;
}

TEST_F(NamedContext, OciLayoutOfAnIndexGivesTheBuildsPlatform) {
    write(dir / "img/Dockerfile", "FROM scratch\nARG TARGETARCH\nCOPY $TARGETARCH /arch\n");
    write(dir / "img/amd64", "amd64\n");
    write(dir / "img/arm64", "arm64\n");
    auto made = run_kiln(dir / "other-root",
                         {"build", "--platform", "linux/amd64,linux/arm64", "-o",
                          "type=oci,dest=" + (dir / "layout").string(), (dir / "img").string()});
    ASSERT_EQ(made.exit_code, 0) << joined(made);
    dockerfile("FROM lib\n");
    for (const std::string arch : {"amd64", "arm64"}) {
        auto r = build({"--platform", "linux/" + arch, "--build-context",
                        "lib=oci-layout://" + (dir / "layout").string()});
        ASSERT_EQ(r.exit_code, 0) << arch << "\n" << joined(r);
        EXPECT_EQ(slurp(dir / "out/arch"), arch + "\n");
    }  // Both at once: each platform gets its own entry of the index.
    auto r = build({"--platform", "linux/amd64,linux/arm64", "--build-context",
                    "lib=oci-layout://" + (dir / "layout").string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "out/linux_amd64/arch"), "amd64\n");
    EXPECT_EQ(slurp(dir / "out/linux_arm64/arch"), "arm64\n");
}
