// Merged /usr (issue #10): on a real Debian bookworm base (tests/integration/
// bookworm_fixture.h: debootstrap --variant=minbase, cached) /bin, /sbin and /lib are
// links into /usr and /var/run is a link to /run. COPY, ADD and WORKDIR through them
// resolve the link inside the image root, so `COPY f /bin/f` writes /usr/bin/f and /bin
// stays the link, as BuildKit and buildah do.
//
// Each case is built by kiln (-o type=local) and checked; where buildah and umoci are
// installed the same Dockerfile is built by buildah (--isolation chroot, a vfs store of
// its own, the same base pulled from the same docker-archive), unpacked with umoci, and
// the paths the case is about are compared entry by entry with kiln's (type, mode, owner,
// size, link target, content digest; timestamps aside).
//
// Needs root, runc, debootstrap and Debian's mirror (the first run makes the base, a few
// minutes); skipped with the reason when the base cannot be made.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "bookworm_fixture.h"
#include "content/digest.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

struct Entry {
    char type = '?';
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    off_t size = 0;
    std::string link;
    std::string digest;

    bool operator==(const Entry&) const = default;
    std::string str() const {
        std::ostringstream o;
        o << type << " mode=" << std::oct << mode << std::dec << " " << uid << ":" << gid;
        if (type == 'f')
            o << " size=" << size << " " << digest.substr(0, 19);
        if (type == 'l')
            o << " -> " << link;
        return o.str();
    }
};

std::optional<Entry> entry_of(const fs::path& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0)
        return std::nullopt;
    Entry e;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    if (S_ISREG(st.st_mode)) {
        e.type = 'f';
        e.size = st.st_size;
        e.digest = kiln::content::Digest::of(slurp(p)).str();
    } else if (S_ISDIR(st.st_mode)) {
        e.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
        e.type = 'l';
        e.mode = 0;
        e.link = fs::read_symlink(p).string();
    } else {
        e.type = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : 'p';
    }
    return e;
}

// The entry at image path `top` and, when it is a directory, every entry below it (links
// not followed), keyed by image path.
std::map<std::string, Entry> listing(const fs::path& rootfs, const std::string& top) {
    std::map<std::string, Entry> out;
    fs::path p = rootfs / fs::path(top).relative_path();
    auto e = entry_of(p);
    if (!e)
        return out;
    out[top] = *e;
    if (e->type != 'd')
        return out;
    for (auto it = fs::recursive_directory_iterator(p); it != fs::recursive_directory_iterator();
         ++it) {
        if (auto c = entry_of(it->path()))
            out[top + "/" + it->path().lexically_relative(p).string()] = *c;
    }
    return out;
}

// Debian's multiarch triplet of this machine (the directory below /usr/lib).
std::string multiarch() {
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64")
        return "x86_64-linux-gnu";
    if (m == "aarch64")
        return "aarch64-linux-gnu";
    return m + "-linux-gnu";
}

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class MergedUsr : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0 || !have_tool("runc"))
            return;
        const BookwormBase& base = bookworm_base();
        if (!base.skip_reason.empty() || !base.error.empty())
            return;
        std::printf("[ bookworm ] base: %s\n", base.timing.c_str());
        dir_ = new Scratch();
        auto t0 = std::chrono::steady_clock::now();
        Result r =
            run_kiln(*dir_ / "root", {"load", "-i", base.archive.string(), "-t", "bookworm:test"});
        if (r.exit_code != 0) {
            setup_error_ = "kiln load of the bookworm base failed: " + joined(r);
            return;
        }
        std::printf("[ bookworm ] kiln load: %.1fs\n", since(t0));
        if (!have_tool("buildah") || !have_tool("umoci"))
            return;
        t0 = std::chrono::steady_clock::now();
        r = run(buildah({"pull", "-q", "docker-archive:" + base.archive.string()}));
        if (r.exit_code != 0) {
            buildah_error_ = "buildah pull of the bookworm base failed: " + joined(r);
            return;
        }
        std::string id = r.out.substr(0, r.out.find_last_not_of("\n") + 1);
        id = id.substr(id.find_last_of('\n') == std::string::npos ? 0 : id.find_last_of('\n') + 1);
        r = run(buildah({"tag", id, "localhost/bookworm:test"}));
        if (r.exit_code != 0) {
            buildah_error_ = "buildah tag failed: " + joined(r);
            return;
        }
        std::printf("[ bookworm ] buildah pull: %.1fs\n", since(t0));
        have_buildah_ = true;
    }

    static void TearDownTestSuite() {
        if (have_buildah_)
            run(buildah({"rmi", "--all", "--force"}));
        delete dir_;
        dir_ = nullptr;
        have_buildah_ = false;
    }

    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root (as in CI)";
        if (!have_tool("runc"))
            GTEST_SKIP() << "needs runc";
        const BookwormBase& base = bookworm_base();
        if (!base.skip_reason.empty())
            GTEST_SKIP() << "no Debian bookworm base: " << base.skip_reason;
        ASSERT_EQ(base.error, "") << "making the Debian bookworm base failed";
        ASSERT_EQ(setup_error_, "");
        ASSERT_NE(dir_, nullptr);
    }

    static std::vector<std::string> buildah(std::vector<std::string> args) {
        std::vector<std::string> argv = {"buildah",
                                         "--root",
                                         (*dir_ / "buildah-root").string(),
                                         "--runroot",
                                         (*dir_ / "buildah-runroot").string(),
                                         "--storage-driver",
                                         "vfs"};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    // A build context NAME: the Dockerfile and files (path → content, mode 0644; a mode
    // other than that via `modes`).
    fs::path context(const std::string& name, const std::string& dockerfile,
                     const std::map<std::string, std::string>& files,
                     const std::map<std::string, int>& modes = {}) {
        fs::path ctx = *dir_ / name / "ctx";
        write(ctx / "Dockerfile", dockerfile);
        for (const auto& [p, content] : files)
            write(ctx / p, content, modes.count(p) ? modes.at(p) : 0644);
        return ctx;
    }

    // Builds the context with kiln into a local directory; returns it, or "" (with a
    // failure recorded).
    fs::path kiln_build(const std::string& name, const fs::path& ctx) {
        fs::path out = *dir_ / name / "kiln-out";
        auto t0 = std::chrono::steady_clock::now();
        Result r = run_kiln(*dir_ / "root", {"build", "--progress", "plain", "-o",
                                             "type=local,dest=" + out.string(), ctx.string()});
        std::printf("[ bookworm ] kiln build %s: %.1fs\n", name.c_str(), since(t0));
        if (r.exit_code != 0) {
            ADD_FAILURE() << "kiln must build this on a merged-/usr base (the link is resolved "
                             "inside the image root, as BuildKit does): "
                          << joined(r);
            return {};
        }
        return out;
    }

    // Builds the same Dockerfile with buildah and unpacks it; returns its rootfs, or "" when
    // buildah is not installed (or failed, with a failure recorded).
    fs::path buildah_build(const std::string& name, const fs::path& ctx) {
        if (!have_buildah_) {
            if (!buildah_error_.empty())
                ADD_FAILURE() << buildah_error_;
            return {};
        }
        fs::path work = *dir_ / name;
        std::string df = slurp(ctx / "Dockerfile");
        const std::string from = "FROM bookworm:test";
        if (auto at = df.find(from); at != std::string::npos)
            df.replace(at, from.size(), "FROM localhost/bookworm:test");
        write(work / "Dockerfile.buildah", df);
        auto t0 = std::chrono::steady_clock::now();
        Result r = run(buildah({"build", "--isolation", "chroot", "--pull=never", "-f",
                                (work / "Dockerfile.buildah").string(), "-t", "localhost/" + name,
                                ctx.string()}));
        if (r.exit_code != 0) {
            ADD_FAILURE() << "buildah build: " << joined(r);
            return {};
        }
        r = run(buildah(
            {"push", "localhost/" + name, "oci:" + (work / "buildah-oci").string() + ":" + name}));
        if (r.exit_code != 0) {
            ADD_FAILURE() << "buildah push: " << joined(r);
            return {};
        }
        r = run({"umoci", "unpack", "--image", (work / "buildah-oci").string() + ":" + name,
                 (work / "buildah-bundle").string()});
        if (r.exit_code != 0) {
            ADD_FAILURE() << "umoci unpack: " << joined(r);
            return {};
        }
        std::printf("[ bookworm ] buildah build %s: %.1fs\n", name.c_str(), since(t0));
        return work / "buildah-bundle/rootfs";
    }

    // kiln's and buildah's images agree on these paths (each with everything below it).
    static void expect_same_as_buildah(const fs::path& kiln, const fs::path& buildah,
                                       const std::vector<std::string>& paths) {
        if (kiln.empty() || buildah.empty())
            return;
        for (const auto& top : paths) {
            auto k = listing(kiln, top);
            auto b = listing(buildah, top);
            std::set<std::string> all;
            for (const auto& [p, e] : k)
                all.insert(p);
            for (const auto& [p, e] : b)
                all.insert(p);
            for (const auto& p : all) {
                auto ki = k.find(p);
                auto bi = b.find(p);
                if (ki == k.end())
                    ADD_FAILURE() << p << " only in buildah's image: " << bi->second.str();
                else if (bi == b.end())
                    ADD_FAILURE() << p << " only in kiln's image: " << ki->second.str();
                else if (!(ki->second == bi->second))
                    ADD_FAILURE() << p << "\n  kiln:    " << ki->second.str()
                                  << "\n  buildah: " << bi->second.str();
            }
        }
    }

    static void expect_link(const fs::path& rootfs, const std::string& path,
                            const std::string& target) {
        fs::path p = rootfs / fs::path(path).relative_path();
        ASSERT_TRUE(fs::is_symlink(p)) << path << " must still be a symlink (to " << target
                                       << "), not replaced by a directory";
        EXPECT_EQ(fs::read_symlink(p).string(), target) << path;
    }

    static void expect_file(const fs::path& rootfs, const std::string& path,
                            const std::string& content, mode_t mode) {
        fs::path p = rootfs / fs::path(path).relative_path();
        struct stat st;
        ASSERT_TRUE(::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            << "no regular file " << path << " in the image";
        EXPECT_EQ(slurp(p), content) << path;
        EXPECT_EQ(st.st_mode & 07777, mode) << path;
    }

    static void expect_dir(const fs::path& rootfs, const std::string& path, uid_t uid, gid_t gid) {
        fs::path p = rootfs / fs::path(path).relative_path();
        struct stat st;
        ASSERT_TRUE(::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            << "no directory " << path << " in the image";
        EXPECT_EQ(st.st_uid, uid) << "owner of " << path;
        EXPECT_EQ(st.st_gid, gid) << "group of " << path;
    }

    static Scratch* dir_;
    static std::string setup_error_;
    static std::string buildah_error_;
    static bool have_buildah_;
};

Scratch* MergedUsr::dir_ = nullptr;
std::string MergedUsr::setup_error_;
std::string MergedUsr::buildah_error_;
bool MergedUsr::have_buildah_ = false;

const std::string kTool = "#!/bin/sh\necho kiln merged-usr test\n";

}  // namespace

TEST_F(MergedUsr, CopyToBinLandsInUsrBin) {
    fs::path ctx =
        context("bin", "FROM bookworm:test\nCOPY f /bin/f\n", {{"f", kTool}}, {{"f", 0755}});
    fs::path out = kiln_build("bin", ctx);
    if (!out.empty()) {
        expect_link(out, "/bin", "usr/bin");
        expect_file(out, "/usr/bin/f", kTool, 0755);
        EXPECT_TRUE(fs::exists(out / "usr/bin/dash")) << "the base's /usr/bin is kept";
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("bin", ctx), {"/bin", "/usr/bin"});
}

TEST_F(MergedUsr, CopyDirToLibLandsInUsrLib) {
    const std::string ma = multiarch();
    fs::path ctx = context(
        "lib", "FROM bookworm:test\nCOPY dir/ /lib/" + ma + "/\n",
        {{"dir/libkilntest.so.1", "not really a library\n"}, {"dir/kilntest/data.txt", "data\n"}},
        {{"dir/libkilntest.so.1", 0755}});
    fs::path out = kiln_build("lib", ctx);
    if (!out.empty()) {
        expect_link(out, "/lib", "usr/lib");
        expect_file(out, "/usr/lib/" + ma + "/libkilntest.so.1", "not really a library\n", 0755);
        expect_file(out, "/usr/lib/" + ma + "/kilntest/data.txt", "data\n", 0644);
        EXPECT_TRUE(fs::exists(out / "usr/lib" / ma / "libc.so.6")) << "the base's libc is kept";
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("lib", ctx), {"/lib", "/usr/lib/" + ma});
}

TEST_F(MergedUsr, WorkdirBelowSbinLandsInUsrSbin) {
    fs::path ctx = context("sbin", "FROM bookworm:test\nWORKDIR /sbin/tools\nCOPY f .\n",
                           {{"f", kTool}}, {{"f", 0755}});
    fs::path out = kiln_build("sbin", ctx);
    if (!out.empty()) {
        expect_link(out, "/sbin", "usr/sbin");
        expect_dir(out, "/usr/sbin/tools", 0, 0);
        expect_file(out, "/usr/sbin/tools/f", kTool, 0755);
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("sbin", ctx), {"/sbin", "/usr/sbin"});
}

TEST_F(MergedUsr, CopyToVarRunLandsInRun) {
    fs::path ctx = context("varrun", "FROM bookworm:test\nCOPY f /var/run/x\n", {{"f", "run\n"}});
    fs::path out = kiln_build("varrun", ctx);
    if (!out.empty()) {
        expect_link(out, "/var/run", "/run");
        expect_file(out, "/run/x", "run\n", 0644);
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("varrun", ctx), {"/var/run", "/run"});
}

TEST_F(MergedUsr, AddArchiveToBinExtractsIntoUsrBin) {
    fs::path ctx = context("addbin", "FROM bookworm:test\nADD tools.tar /bin/\n",
                           {{"tools/kiln-tool", kTool}, {"tools/kiln-tool.d/readme", "readme\n"}},
                           {{"tools/kiln-tool", 0755}});
    Result r = run({"tar", "--create", "--file", (ctx / "tools.tar").string(), "--directory",
                    (ctx / "tools").string(), "--numeric-owner", "--owner=0", "--group=0", "--",
                    "kiln-tool", "kiln-tool.d"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    fs::remove_all(ctx / "tools");
    fs::path out = kiln_build("addbin", ctx);
    if (!out.empty()) {
        expect_link(out, "/bin", "usr/bin");
        expect_file(out, "/usr/bin/kiln-tool", kTool, 0755);
        expect_file(out, "/usr/bin/kiln-tool.d/readme", "readme\n", 0644);
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("addbin", ctx), {"/bin", "/usr/bin"});
}

TEST_F(MergedUsr, UserNobodyWorkdirAndRun) {
    // WORKDIR makes its missing directories owned by the USER (BuildKit), so nobody can
    // write in it.
    fs::path ctx = context(
        "nobody", "FROM bookworm:test\nUSER nobody\nWORKDIR /srv/app/work\nRUN touch x\n", {});
    fs::path out = kiln_build("nobody", ctx);
    if (!out.empty()) {
        expect_dir(out, "/srv", 0, 0);
        expect_dir(out, "/srv/app", 65534, 65534);
        expect_dir(out, "/srv/app/work", 65534, 65534);
        struct stat st;
        ASSERT_EQ(::lstat((out / "srv/app/work/x").c_str(), &st), 0) << "RUN touch x as nobody";
        EXPECT_EQ(st.st_uid, 65534u);
    }
    if (!out.empty())
        expect_same_as_buildah(out, buildah_build("nobody", ctx), {"/srv"});
}

// On a real Debian: glibc resolves an --add-host name through the generated
// /etc/hosts, --ulimit and --shm-size reach the RUN, and the context came as a
// tarball on stdin.
TEST_F(MergedUsr, BuildxRunFlagsAndAStdinContextOnDebian) {
    fs::path ctx = context("flags",
                           "FROM bookworm:test\nRUN getent hosts db.internal > /hosts; ulimit -n "
                           "> /nofile; df -k /dev/shm | tail -n 1 > /shm\n",
                           {});
    const fs::path tar = *dir_ / "flags" / "ctx.tar";
    ASSERT_EQ(run({"tar", "-C", ctx.string(), "-cf", tar.string(), "."}).exit_code, 0);
    const fs::path out = *dir_ / "flags" / "out";
    auto r = run({"sh", "-c",
                  std::string(KILN_BINARY) + " --root " + (*dir_ / "root").string() +
                      " build --add-host db.internal:10.9.8.7 --ulimit nofile=512 --shm-size 32m "
                      "-o type=local,dest=" +
                      out.string() + " - < " + tar.string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(slurp(out / "hosts"), "10.9.8.7        db.internal\n");
    EXPECT_EQ(slurp(out / "nofile"), "512\n");
    EXPECT_NE(slurp(out / "shm").find(" 32768 "), std::string::npos) << slurp(out / "shm");
}

// Named contexts and `-o -` on a real base: the image pinned by a named context of its
// familiar name, a directory context copied into merged /usr and mounted into a RUN, and
// the root file system as a tar on stdout that keeps Debian's links (read by Python's
// tarfile, not by kiln).
TEST_F(MergedUsr, NamedContextsAndATarOnStdoutOnDebian) {
    fs::path ctx = context("named",
                           "FROM debian\n"
                           "COPY --from=src tool /bin/tool\n"
                           "RUN --mount=from=src,target=/src cp /src/data /etc/data && "
                           "ln /etc/data /etc/data-link\n",
                           {});
    const fs::path src = *dir_ / "named" / "src";
    write(src / "tool", kTool, 0755);
    write(src / "data", "from a named context\n");
    const fs::path tar = *dir_ / "named" / "rootfs.tar";
    auto r = run({"sh", "-c",
                  std::string(KILN_BINARY) + " --root " + (*dir_ / "root").string() +
                      " build --build-context debian=docker-image://bookworm:test "
                      "--build-context src=" +
                      src.string() + " -o - " + ctx.string() + " > " + tar.string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    auto list = run({"python3", "-c",
                     "import sys, tarfile\n"
                     "t = tarfile.open(sys.argv[1])\n"
                     "m = {x.name: x for x in t}\n"
                     "print('bin', m['bin'].issym(), m['bin'].linkname)\n"
                     "print('tool', m['usr/bin/tool'].isfile(), oct(m['usr/bin/tool'].mode))\n"
                     "print('link', m['etc/data-link'].islnk(), m['etc/data-link'].linkname)\n"
                     "print('passwd', m['etc/passwd'].isfile())\n"
                     "print(t.extractfile('etc/data').read().decode(), end='')\n",
                     tar.string()});
    ASSERT_EQ(list.exit_code, 0) << joined(list);
    EXPECT_EQ(list.out,
              "bin True usr/bin\n"
              "tool True 0o755\n"
              "link True etc/data\n"
              "passwd True\n"
              "from a named context\n");
}

// GNU cp -a in a real Debian copies everything a bind of the context shows: what
// .dockerignore leaves out (a .env, a checkout's .git) is not there, as in BuildKit.
// (buildah shows it: containers/buildah#6450, so no comparison with buildah here.)
TEST_F(MergedUsr, ABindOfTheContextLeavesOutWhatDockerignoreIgnores) {
    fs::path ctx = context("bind-ignore",
                           "FROM bookworm:test\n"
                           "RUN --mount=type=bind,target=/src cp -a /src /usr/local/src/app\n",
                           {{"app.py", "print('hi')\n"},
                            {".env", "TOKEN=secret\n"},
                            {".git/HEAD", "ref: refs/heads/main\n"},
                            {".dockerignore", ".env\n.git\n"}});
    fs::path out = kiln_build("bind-ignore", ctx);
    if (out.empty())
        return;
    const fs::path app = out / "usr/local/src/app";
    EXPECT_EQ(slurp(app / "app.py"), "print('hi')\n");
    EXPECT_TRUE(fs::exists(app / "Dockerfile"));
    EXPECT_FALSE(fs::exists(app / ".env"));
    EXPECT_FALSE(fs::exists(app / ".git"));
}
