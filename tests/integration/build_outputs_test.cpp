// kiln build, checked from outside: skopeo reads the config, umoci unpacks
// the tree, runc runs the result.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

const char* kMetadataDockerfile = R"DF(FROM scratch
ARG VERSION=1.2
ENV APP_HOME=/srv/app VERSION=${VERSION}
ENV DERIVED=${APP_HOME}/bin
LABEL org.example.name="demo app" org.example.version=$VERSION
COPY hello.txt /srv/app/
WORKDIR $APP_HOME
USER 1000:1000
EXPOSE 80 443/tcp 53/udp
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/app", "--serve"]
CMD ["--port", "80"]
)DF";

void expect_metadata(const json& cfg) {
    const json& c = cfg.at("config");
    EXPECT_EQ(c.at("Env"),
              json({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "APP_HOME=/srv/app", "VERSION=1.2", "DERIVED=/srv/app/bin"}));
    EXPECT_EQ(c.at("Entrypoint"), json({"/bin/app", "--serve"}));
    EXPECT_EQ(c.at("Cmd"), json({"--port", "80"}));
    EXPECT_EQ(c.at("WorkingDir"), "/srv/app");
    EXPECT_EQ(c.at("User"), "1000:1000");
    EXPECT_EQ(c.at("ExposedPorts"), json({{"80/tcp", json::object()},
                                          {"443/tcp", json::object()},
                                          {"53/udp", json::object()}}));
    EXPECT_EQ(c.at("Labels"),
              json({{"org.example.name", "demo app"}, {"org.example.version", "1.2"}}));
    EXPECT_EQ(c.at("Volumes"), json({{"/data", json::object()}, {"/cache", json::object()}}));
    EXPECT_EQ(c.at("StopSignal"), "SIGINT");
    // One layer for the COPY; the WORKDIR's directory already exists (made by
    // the COPY), so only history says it happened.
    EXPECT_EQ(cfg.at("rootfs").at("diff_ids").size(), 1u);
    const json& h = cfg.at("history");
    ASSERT_EQ(h.size(), 12u);  // one entry per instruction after FROM
    EXPECT_EQ(h[4].at("created_by"), "COPY hello.txt /srv/app/ # buildkit");
    EXPECT_FALSE(h[4].value("empty_layer", false));
    EXPECT_TRUE(h[0].value("empty_layer", false));
}

class BuildOutputs : public ::testing::Test {
  protected:
    void SetUp() override {
        write(dir / "ctx/Dockerfile", kMetadataDockerfile);
        write(dir / "ctx/hello.txt", "hello\n");
    }
    Scratch dir;
};

}  // namespace

TEST_F(BuildOutputs, SkopeoReadsConfigFromOciDirectory) {
    auto r =
        run_kiln(dir / "root", {"build", "-t", "demo:1", "-o",
                                "type=oci,dest=" + (dir / "oci").string(), (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto cfg =
        json_of(run({"skopeo", "inspect", "--config", "oci:" + (dir / "oci").string() + ":1"}));
    expect_metadata(cfg);
    auto manifest =
        json_of(run({"skopeo", "inspect", "--raw", "oci:" + (dir / "oci").string() + ":1"}));
    EXPECT_EQ(manifest.at("mediaType"), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ(manifest.at("layers")[0].at("mediaType"),
              "application/vnd.oci.image.layer.v1.tar+gzip");
}

TEST_F(BuildOutputs, SkopeoReadsOciTarAndDockerArchive) {
    auto r = run_kiln(
        dir / "root",
        {"build", "-t", "demo:2", "-o", "type=oci,dest=" + (dir / "img.tar").string(), "-o",
         "type=docker,dest=" + (dir / "docker.tar").string(), (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_metadata(json_of(run(
        {"skopeo", "inspect", "--config", "oci-archive:" + (dir / "img.tar").string() + ":2"})));
    expect_metadata(json_of(
        run({"skopeo", "inspect", "--config", "docker-archive:" + (dir / "docker.tar").string()})));
    auto raw = json_of(
        run({"skopeo", "inspect", "--raw", "docker-archive:" + (dir / "docker.tar").string()}));
    EXPECT_EQ(raw.at("mediaType"), "application/vnd.docker.distribution.manifest.v2+json");
    // docker load reads manifest.json's RepoTags.
    auto list = run({"tar", "-xOf", (dir / "docker.tar").string(), "manifest.json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(json_of(list)[0].at("RepoTags"), json({"demo:2"}));
}

TEST_F(BuildOutputs, LocalStoreIsAnOciLayoutSkopeoReads) {
    auto r = run_kiln(dir / "root", {"build", "-t", "demo", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string digest = r.out.substr(0, r.out.find('\n'));
    auto info =
        json_of(run({"skopeo", "inspect", "oci:" + (dir / "root").string() + ":demo:latest"}));
    EXPECT_EQ(info.at("Digest"), digest);
    expect_metadata(json_of(
        run({"skopeo", "inspect", "--config", "oci:" + (dir / "root").string() + ":demo:latest"})));
}

TEST_F(BuildOutputs, ZstdAndDockerMediaTypesOnRequest) {
    auto r =
        run_kiln(dir / "root",
                 {"build", "-t", "z", "-o",
                  "type=oci,dest=" + (dir / "z").string() + ",compression=zstd,compression-level=9",
                  "-o", "type=oci,dest=" + (dir / "d").string() + ",oci-mediatypes=false",
                  (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto z =
        json_of(run({"skopeo", "inspect", "--raw", "oci:" + (dir / "z").string() + ":latest"}));
    EXPECT_EQ(z.at("layers")[0].at("mediaType"), "application/vnd.oci.image.layer.v1.tar+zstd");
    // skopeo's oci: transport only lists OCI manifests, so read the layout by hand
    // (as BuildKit writes it, the index entry carries the Docker media type).
    auto index = nlohmann::json::parse(slurp(dir / "d/index.json"));
    ASSERT_EQ(index.at("manifests").size(), 1u);
    EXPECT_EQ(index.at("manifests")[0].at("mediaType"),
              "application/vnd.docker.distribution.manifest.v2+json");
    std::string mdigest = index.at("manifests")[0].at("digest");
    auto d = nlohmann::json::parse(slurp(dir / "d/blobs/sha256" / mdigest.substr(7)));
    EXPECT_EQ(d.at("mediaType"), "application/vnd.docker.distribution.manifest.v2+json");
    EXPECT_EQ(d.at("config").at("mediaType"), "application/vnd.docker.container.image.v1+json");
    EXPECT_EQ(d.at("layers")[0].at("mediaType"),
              "application/vnd.docker.image.rootfs.diff.tar.gzip");
    // The zstd layer really is zstd: skopeo can copy it (decompressing to verify diff_ids).
    auto copy = run({"skopeo", "copy", "oci:" + (dir / "z").string() + ":latest",
                     "dir:" + (dir / "zcopy").string()});
    EXPECT_EQ(copy.exit_code, 0) << copy.err;
}

namespace {

struct Entry {
    std::string type;
    unsigned mode;
    unsigned uid, gid;
    std::string content_or_target;
};

Entry stat_entry(const fs::path& p) {
    struct stat st;
    EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
    Entry e{S_ISDIR(st.st_mode)   ? "dir"
            : S_ISLNK(st.st_mode) ? "symlink"
                                  : "file",
            static_cast<unsigned>(st.st_mode & 07777), st.st_uid, st.st_gid, ""};
    if (S_ISLNK(st.st_mode))
        e.content_or_target = fs::read_symlink(p).string();
    if (S_ISREG(st.st_mode))
        e.content_or_target = slurp(p);
    return e;
}

}  // namespace

TEST(BuildTree, UmociUnpacksTheExpectedTree) {
    Scratch dir;
    auto ctx = dir / "ctx";
    write(ctx / "Dockerfile", R"DF(FROM scratch
COPY app/ /opt/app/
COPY --chown=1000:50 --chmod=0640 secret.conf /etc/app.conf
COPY single.txt /renamed.txt
)DF");
    write(ctx / "app/bin/run", "#!/bin/sh\necho run\n", 0755);
    write(ctx / "app/setuid", "s", 04755);
    write(ctx / "app/private", "p", 0600);
    write(ctx / "app/notes.tmp", "ignored", 0644);
    write(ctx / "app/cache/big.bin", "ignored", 0644);
    symlink("bin/run", (ctx / "app/run-link").c_str());
    link((ctx / "app/private").c_str(), (ctx / "app/private-hardlink").c_str());
    write(ctx / "secret.conf", "k=v\n", 0644);
    write(ctx / "single.txt", "one\n", 0644);
    write(ctx / ".dockerignore", "**/*.tmp\napp/cache\n");

    auto r = run_kiln(dir / "root", {"build", "-t", "tree", "-o",
                                     "type=oci,dest=" + (dir / "oci").string(), ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto u = run({"umoci", "unpack", "--image", (dir / "oci").string() + ":latest",
                  (dir / "bundle").string()});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    fs::path rootfs = dir / "bundle/rootfs";

    auto e = stat_entry(rootfs / "opt/app/bin/run");
    EXPECT_EQ(e.type, "file");
    EXPECT_EQ(e.mode, 0755u);
    EXPECT_EQ(e.uid, 0u);
    EXPECT_EQ(e.content_or_target, "#!/bin/sh\necho run\n");
    EXPECT_EQ(stat_entry(rootfs / "opt/app/setuid").mode, 04755u);
    EXPECT_EQ(stat_entry(rootfs / "opt/app/private").mode, 0600u);
    auto link_e = stat_entry(rootfs / "opt/app/run-link");
    EXPECT_EQ(link_e.type, "symlink");
    EXPECT_EQ(link_e.content_or_target, "bin/run");
    struct stat a, b;
    ASSERT_EQ(stat((rootfs / "opt/app/private").c_str(), &a), 0);
    ASSERT_EQ(stat((rootfs / "opt/app/private-hardlink").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << "hard link not kept";
    EXPECT_FALSE(fs::exists(rootfs / "opt/app/notes.tmp")) << ".dockerignore not honoured";
    EXPECT_FALSE(fs::exists(rootfs / "opt/app/cache")) << ".dockerignore not honoured";
    auto conf = stat_entry(rootfs / "etc/app.conf");
    EXPECT_EQ(conf.mode, 0640u);
    EXPECT_EQ(conf.uid, 1000u);
    EXPECT_EQ(conf.gid, 50u);
    EXPECT_EQ(conf.content_or_target, "k=v\n");
    // A parent the COPY creates gets the --chown owner, as BuildKit (and buildah) do.
    auto parent = stat_entry(rootfs / "etc");
    EXPECT_EQ(parent.type, "dir");
    EXPECT_EQ(parent.mode, 0755u);
    EXPECT_EQ(parent.uid, 1000u);
    EXPECT_EQ(parent.gid, 50u);
    // One the COPY did not create (made by an earlier COPY) keeps root.
    EXPECT_EQ(stat_entry(rootfs / "opt").uid, 0u);
    EXPECT_EQ(stat_entry(rootfs / "renamed.txt").content_or_target, "one\n");
}

TEST(BuildRun, BusyboxImageRunsUnderRunc) {
    if (!fs::exists(busybox_path()))
        GTEST_SKIP() << "busybox-static is not installed";
    Scratch dir;
    auto ctx = dir / "ctx";
    write(ctx / "Dockerfile", R"DF(FROM scratch
COPY busybox /bin/busybox
ENV WHO=runc
WORKDIR /work
CMD ["/bin/busybox", "sh", "-c", "echo hello from $WHO in $(/bin/busybox pwd)"]
)DF");
    fs::copy_file(busybox_path(), ctx / "busybox");
    auto r = run_kiln(
        dir / "root",
        {"build", "-o", "type=oci,dest=" + (dir / "oci").string() + ",name=run:me", ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto u = run(
        {"umoci", "unpack", "--image", (dir / "oci").string() + ":me", (dir / "bundle").string()});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    // umoci asks for a terminal; the test has none.
    auto cfg_path = dir / "bundle/config.json";
    auto cfg = json::parse(slurp(cfg_path));
    cfg["process"]["terminal"] = false;
    write(cfg_path, cfg.dump());
    std::string id = "kiln-it-" + std::to_string(getpid());
    auto rr = run({"runc", "run", "--bundle", (dir / "bundle").string(), id});
    run({"runc", "delete", "-f", id});
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
    EXPECT_EQ(rr.out, "hello from runc in /work\n");
}

TEST(BuildLocal, LocalOutputIsTheRootFilesystem) {
    Scratch dir;
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY a.txt /x/a.txt\nCOPY b.txt /x/\nWORKDIR /made/here\n");
    write(dir / "ctx/a.txt", "A");
    write(dir / "ctx/b.txt", "B", 0600);
    auto r = run_kiln(dir / "root", {"build", "-o", "type=local,dest=" + (dir / "out").string(),
                                     (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(slurp(dir / "out/x/a.txt"), "A");
    EXPECT_EQ(stat_entry(dir / "out/x/b.txt").mode, 0600u);
    EXPECT_TRUE(fs::is_directory(dir / "out/made/here"));
    // Nothing but the image's files: no temp names left beside or inside.
    std::vector<std::string> top;
    for (auto& d : fs::directory_iterator(dir / "out"))
        top.push_back(d.path().filename());
    std::sort(top.begin(), top.end());
    EXPECT_EQ(top, (std::vector<std::string>{"made", "x"}));
    for (auto& d : fs::directory_iterator(dir.path()))
        EXPECT_FALSE(d.path().filename().string().starts_with(".kiln"));
}

TEST_F(BuildOutputs, DockerArchiveLoadsIntoPodman) {
    auto tar = dir / "docker.tar";
    auto r = run_kiln(dir / "root", {"build", "-t", "loadme:v3", "-o",
                                     "type=docker,dest=" + tar.string(), (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // A podman store of the test's own (vfs: no mounts needed), as `podman load` uses it.
    std::vector<std::string> podman = {"podman",
                                       "--root",
                                       (dir / "pm/storage").string(),
                                       "--runroot",
                                       (dir / "pm/run").string(),
                                       "--storage-driver",
                                       "vfs"};
    auto with = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = podman;
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv);
    };
    auto load = with({"load", "-i", tar.string()});
    ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
    EXPECT_NE(load.out.find("loadme:v3"), std::string::npos) << load.out;
    auto inspect = with({"image", "inspect", "loadme:v3"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    auto j = json_of(inspect)[0];
    EXPECT_EQ(j.at("Config").at("Cmd"), nlohmann::json({"--port", "80"}));
    EXPECT_EQ(j.at("Config").at("WorkingDir"), "/srv/app");
    EXPECT_EQ(j.at("RootFS").at("Layers").size(), 1u);
    with({"rmi", "-a", "-f"});
}
