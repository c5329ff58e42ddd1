// -o type=tar and `-o -`: the result's root file system as one tar, to a file
// or to standard output (which then holds nothing else), read back with GNU
// tar and Python's tarfile, not with kiln; dest=- for the archive outputs
// (oci, docker) read by skopeo; the refusals (two outputs on stdout, a
// terminal).
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class TarOutput : public ::testing::Test {
  protected:
    // kiln build ARGS CTX > out, through a shell so stdout is a file.
    Result build_to_file(const std::string& args, const fs::path& out) {
        return run({"sh", "-c",
                    std::string(KILN_BINARY) + " --root " + (dir / "root").string() +
                        " build --progress plain " + args + " " + (dir / "ctx").string() + " > " +
                        out.string()});
    }
    // Each entry of `tar` as "name type mode uid:gid [link]", by Python's tarfile.
    std::string listing(const fs::path& tar) {
        auto r = run({"python3", "-c",
                      "import sys, tarfile\n"
                      "for m in tarfile.open(sys.argv[1]):\n"
                      "    kind = 'l' if m.issym() else 'h' if m.islnk() else 'd' if m.isdir() "
                      "else 'f'\n"
                      "    print(m.name, kind, oct(m.mode), f'{m.uid}:{m.gid}', m.linkname)\n",
                      tar.string()});
        EXPECT_EQ(r.exit_code, 0) << joined(r);
        return r.out;
    }
    Scratch dir;
};

}  // namespace

TEST_F(TarOutput, DashIsTheRootFilesystemOnStdoutWithOwnersModesAndLinks) {
    write(dir / "ctx/tool", "#!/bin/sh\n", 0755);
    // The symlink and the hard link come from an image made by Python's tarfile and loaded.
    auto made = run(
        {"python3", "-c",
         "import io, json, hashlib, sys, tarfile\n"
         "out = sys.argv[1]\n"
         "layer = io.BytesIO()\n"
         "with tarfile.open(fileobj=layer, mode='w') as t:\n"
         "    for name, kind, target in (('etc', tarfile.DIRTYPE, ''), ('etc/a', tarfile.REGTYPE, "
         "''), ('etc/b', tarfile.LNKTYPE, 'etc/a'), ('etc/s', tarfile.SYMTYPE, 'a')):\n"
         "        i = tarfile.TarInfo(name); i.type = kind; i.linkname = target\n"
         "        data = b'x' if kind == tarfile.REGTYPE else b''\n"
         "        i.size = len(data); i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644\n"
         "        t.addfile(i, io.BytesIO(data))\n"
         "layer = layer.getvalue()\n"
         "lh = hashlib.sha256(layer).hexdigest()\n"
         "cfg = json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': "
         "'layers', 'diff_ids': ['sha256:' + lh]}}).encode()\n"
         "ch = hashlib.sha256(cfg).hexdigest()\n"
         "man = json.dumps([{'Config': ch + '.json', 'RepoTags': ['links:1'], 'Layers': [lh + "
         "'.tar']}]).encode()\n"
         "with tarfile.open(out, 'w') as t:\n"
         "    for name, data in ((ch + '.json', cfg), (lh + '.tar', layer), ('manifest.json', "
         "man)):\n"
         "        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n",
         (dir / "links.tar").string()});
    ASSERT_EQ(made.exit_code, 0) << joined(made);
    auto loaded = run_kiln(dir / "root", {"load", "-i", (dir / "links.tar").string()});
    ASSERT_EQ(loaded.exit_code, 0) << joined(loaded);
    write(dir / "ctx/Dockerfile",
          "FROM links:1\n"
          "COPY --chown=1000:1000 --chmod=4755 tool /usr/bin/tool\n");

    auto r = build_to_file("-o -", dir / "out.tar");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    // Nothing but the tar: no digest line after its last 512-byte block.
    EXPECT_EQ(fs::file_size(dir / "out.tar") % 512, 0u);
    const std::string list = listing(dir / "out.tar");
    EXPECT_NE(list.find("usr/bin/tool f 0o4755 1000:1000"), std::string::npos) << list;
    EXPECT_NE(list.find("etc/s l 0o777 0:0 a"), std::string::npos) << list;
    EXPECT_NE(list.find("etc/b h 0o644 0:0 etc/a"), std::string::npos) << list;
    // GNU tar reads it whole and unpacks the same tree.
    fs::create_directories(dir / "x");
    auto x = run({"tar", "-xpf", (dir / "out.tar").string(), "-C", (dir / "x").string()});
    ASSERT_EQ(x.exit_code, 0) << joined(x);
    EXPECT_EQ(slurp(dir / "x/usr/bin/tool"), "#!/bin/sh\n");
    EXPECT_EQ(fs::read_symlink(dir / "x/etc/s"), "a");
    EXPECT_TRUE(fs::equivalent(dir / "x/etc/a", dir / "x/etc/b"));
}

TEST_F(TarOutput, TypeTarWritesAFileAndStdoutKeepsTheDigest) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
    write(dir / "ctx/f", "content\n");
    auto r = build_to_file("-o type=tar,dest=" + (dir / "img.tar").string(), dir / "stdout");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(dir / "stdout").rfind("sha256:", 0), 0u) << slurp(dir / "stdout");
    auto t = run({"tar", "-xOf", (dir / "img.tar").string(), "f"});
    EXPECT_EQ(t.out, "content\n") << joined(t);
}

TEST_F(TarOutput, SeveralPlatformsEachHaveADirectory) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\n");
    write(dir / "ctx/f", "x\n");
    auto r = build_to_file("--platform linux/amd64,linux/arm64 -o -", dir / "out.tar");
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto t = run({"tar", "-tf", (dir / "out.tar").string()});
    EXPECT_NE(t.out.find("linux_amd64/f"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("linux_arm64/f"), std::string::npos) << t.out;
}

TEST_F(TarOutput, OciAndDockerArchivesGoToStdout) {
    if (!have_tool("skopeo"))
        GTEST_SKIP() << "skopeo not installed";
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY f /f\nLABEL via=stdout\n");
    write(dir / "ctx/f", "x\n");
    for (const std::string kind : {"oci", "docker"}) {
        const fs::path out = dir / (kind + ".tar");
        auto r = build_to_file("-o type=" + kind + ",dest=-", out);
        ASSERT_EQ(r.exit_code, 0) << kind << "\n" << joined(r);
        auto s = run({"skopeo", "inspect", "--config",
                      (kind == "oci" ? "oci-archive:" : "docker-archive:") + out.string()});
        ASSERT_EQ(s.exit_code, 0) << kind << "\n" << joined(s);
        EXPECT_EQ(json_of(s)["config"]["Labels"]["via"], "stdout") << s.out;
    }
}

TEST_F(TarOutput, RefusalsComeBeforeTheBuild) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY missing /\n");
    auto two = build_to_file("-o - -o type=oci,dest=-", dir / "out");
    EXPECT_EQ(two.exit_code, 2) << joined(two);
    EXPECT_NE(two.err.find("only one --output can go to standard output"), std::string::npos)
        << two.err;
    auto key = build_to_file("-o type=tar,dest=-,compression=gzip", dir / "out");
    EXPECT_EQ(key.exit_code, 2) << joined(key);
    EXPECT_NE(key.err.find("takes no \"compression\""), std::string::npos) << key.err;
    // stdout a terminal (script(1) gives it one): refused, nothing written to it.
    if (have_tool("script")) {
        auto tty = run({"script", "-qec",
                        std::string(KILN_BINARY) + " --root " + (dir / "root").string() +
                            " build -o - " + (dir / "ctx").string(),
                        "/dev/null"});
        EXPECT_EQ(tty.exit_code, 2) << joined(tty);
        EXPECT_NE(tty.out.find("refusing to write a tar to the terminal"), std::string::npos)
            << tty.out;
    }
}
