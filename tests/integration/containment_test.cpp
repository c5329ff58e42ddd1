// Containment (issue #10): no path inside an image root reaches the host.
//
// Each test puts a "victim" directory on the host (a file `secret` with known bytes, a
// subdirectory, a link, a passwd and a group file), takes a snapshot of everything beside
// it (paths, types, modes, owners, link counts, contents, link targets), runs kiln builds
// as root whose Dockerfile, context, archive or base layers try to reach the victim
// through links (absolute links to its host path, relative `../..` chains, links to `/`,
// link loops, hard links, whiteouts), and checks the snapshot is unchanged afterwards,
// whether the build succeeded or failed. A difference is reported as HOST DAMAGE.
//
// Then, where BuildKit's result is known, the image (exported with -o type=local): a link
// inside an image is followed as the container sees it (absolute targets from the image
// root, `..` stopping at it), so with /x -> /tmp/kiln-it-…/victim, `COPY f /x/` writes
// /tmp/kiln-it-…/victim/f inside the image (creating its parents), as BuildKit does.
//
// Needs root, runc and a static busybox (Debian's busybox-static), as in CI.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "bookworm_fixture.h"
#include "content/digest.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

constexpr std::string_view kSecret = "kiln containment test: host secret 5f1e0c7a9b3d\n";
constexpr const char* kNewf = "new file from the build context\n";
// More `..` than any path kiln keeps a snapshot at has components.
constexpr int kUp = 32;

// ---------------------------------------------------------------------------
// Host snapshots

struct Node {
    char type = '?';  // f d l c b p s
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    nlink_t nlink = 0;  // for non-directories: a hard link made to a host file shows here
    std::string content;
    std::string link;

    bool operator==(const Node&) const = default;
    std::string str() const {
        std::ostringstream o;
        o << type << " mode=" << std::oct << mode << std::dec << " owner=" << uid << ":" << gid;
        if (type != 'd')
            o << " nlink=" << nlink;
        if (type == 'f')
            o << " " << content.size() << " bytes " << content_digest();
        if (type == 'l')
            o << " -> " << link;
        return o.str();
    }
    std::string content_digest() const {
        return kiln::content::Digest::of(content).str().substr(0, 19);
    }
};
using Snapshot = std::map<std::string, Node>;

void snapshot_into(const fs::path& p, const std::string& rel, Snapshot& out) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0)
        return;
    Node n;
    n.mode = st.st_mode & 07777;
    n.uid = st.st_uid;
    n.gid = st.st_gid;
    if (S_ISREG(st.st_mode)) {
        n.type = 'f';
        n.nlink = st.st_nlink;
        n.content = slurp(p);
    } else if (S_ISDIR(st.st_mode)) {
        n.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
        n.type = 'l';
        n.nlink = st.st_nlink;
        n.mode = 0;
        n.link = fs::read_symlink(p).string();
    } else {
        n.type = S_ISCHR(st.st_mode)    ? 'c'
                 : S_ISBLK(st.st_mode)  ? 'b'
                 : S_ISFIFO(st.st_mode) ? 'p'
                                        : 's';
        n.nlink = st.st_nlink;
    }
    out[rel] = n;
    if (n.type != 'd')
        return;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(p, ec))
        snapshot_into(e.path(), rel + "/" + e.path().filename().string(), out);
}

Snapshot snapshot(const fs::path& top) {
    Snapshot s;
    snapshot_into(top, ".", s);
    return s;
}

std::string snapshot_diff(const Snapshot& before, const Snapshot& after) {
    std::ostringstream o;
    for (const auto& [p, n] : before) {
        auto it = after.find(p);
        if (it == after.end())
            o << "  removed  " << p << " (was " << n.str() << ")\n";
        else if (!(it->second == n))
            o << "  changed  " << p << "\n    before: " << n.str()
              << "\n    after:  " << it->second.str() << "\n";
    }
    for (const auto& [p, n] : after)
        if (!before.count(p))
            o << "  added    " << p << " (" << n.str() << ")\n";
    return o.str();
}

// Whether any regular file below `dir` (links not followed) holds `needle`.
std::vector<std::string> files_holding(const fs::path& dir, std::string_view needle) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(dir, ec)))
        return out;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec)
            break;
        if (it->is_regular_file(ec) && !it->is_symlink(ec) &&
            slurp(it->path()).find(needle) != std::string::npos)
            out.push_back(it->path().string());
    }
    return out;
}

// ---------------------------------------------------------------------------
// Small helpers

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

// The message the user sees first (after the progress lines).
std::string error_line(const Result& r) {
    auto pos = r.err.find("error: ");
    return pos == std::string::npos ? "" : first_line(r.err.substr(pos));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return s;
}

// Writes a tar with Python's tarfile, entry by entry as given (names are not cleaned:
// `../x` and `/x` stay as they are). Each entry: name, type (file, dir, symlink,
// hardlink), data, link, mode.
const char* kTarScript = R"PY(
import io, json, sys, tarfile
spec = json.load(open(sys.argv[1]))
with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as tf:
    for e in spec:
        ti = tarfile.TarInfo(e["name"])
        ti.mtime = 1700000000
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        t = e["type"]
        ti.mode = e.get("mode", 0o755 if t == "dir" else 0o644)
        if t == "file":
            data = e.get("data", "").encode()
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        else:
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                       "hardlink": tarfile.LNKTYPE}[t]
            ti.linkname = e.get("link", "")
            tf.addfile(ti)
)PY";

json file_entry(const std::string& name, const std::string& data) {
    return {{"name", name}, {"type", "file"}, {"data", data}};
}
json dir_entry(const std::string& name) {
    return {{"name", name}, {"type", "dir"}};
}
json symlink_entry(const std::string& name, const std::string& target) {
    return {{"name", name}, {"type", "symlink"}, {"link", target}};
}
json hardlink_entry(const std::string& name, const std::string& target) {
    return {{"name", name}, {"type", "hardlink"}, {"link", target}};
}

// ---------------------------------------------------------------------------
// The fixture

class Containment : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        root_ = work_ / "root";
        victim_ = host_ / "victim";
        // The victim: known bytes, modes and owners that a write, chmod or chown through
        // a link would change.
        fs::create_directories(victim_ / "sub");
        write(victim_ / "secret", std::string(kSecret), 0644);
        write(victim_ / "sub/inner", "inner\n", 0600);
        write(victim_ / "passwd", "root:x:0:0:root:/root:/bin/sh\nevil:x:4242:4242::/:/bin/sh\n");
        write(victim_ / "group", "root:x:0:\nevilgrp:x:4343:evil\n");
        fs::create_symlink("secret", victim_ / "lnk");
        ::chmod((victim_ / "sub").c_str(), 0750);
        ::chmod(victim_.c_str(), 0751);
        ::chmod(host_.path().c_str(), 0755);
        before_ = snapshot(host_.path());
    }

    virtual std::vector<std::string> snapshotter_args() const { return {}; }

    // The victim's host path, as a string for Dockerfiles ("/tmp/kiln-it-…/victim").
    std::string v() const { return victim_.string(); }
    // The same path relative to / ("tmp/kiln-it-…/victim").
    std::string vrel() const { return victim_.relative_path().string(); }
    // A relative link target that climbs to / from any depth and comes down to `path`.
    static std::string up_to(const std::string& path) {
        std::string s;
        for (int i = 0; i < kUp; ++i)
            s += "../";
        return s + fs::path(path).relative_path().string();
    }
    // Where an absolute image path is in a -o type=local export.
    static fs::path at(const fs::path& out, const std::string& image_path) {
        return out / fs::path(image_path).relative_path();
    }

    // The busybox base (busybox, its applets, a passwd and group) as base:1.
    void make_base() {
        Result r = build_busybox_base(
            root_, work_ / "base-ctx", "base:1", "COPY passwd group /etc/\n",
            {{"passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"},
             {"group", "root:x:0:\nnogroup:x:65534:\n"}},
            snapshotter_args());
        ASSERT_EQ(r.exit_code, 0) << "the busybox base did not build: " << joined(r);
    }

    // A build context: the Dockerfile, regular files, and links (path → target).
    fs::path context(const std::string& name, const std::string& dockerfile,
                     const std::map<std::string, std::string>& files = {},
                     const std::map<std::string, std::string>& links = {}) {
        fs::path ctx = work_ / name;
        write(ctx / "Dockerfile", dockerfile);
        for (const auto& [p, content] : files)
            write(ctx / p, content);
        for (const auto& [p, target] : links) {
            fs::create_directories((ctx / p).parent_path());
            fs::create_symlink(target, ctx / p);
        }
        return ctx;
    }

    // kiln build with plain progress (and the snapshotter under test); with `out`, the
    // image is exported there with -o type=local.
    Result build(const fs::path& ctx, const fs::path& out = {},
                 const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"build", "--progress", "plain"};
        auto s = snapshotter_args();
        args.insert(args.end(), s.begin(), s.end());
        if (!out.empty()) {
            args.push_back("-o");
            args.push_back("type=local,dest=" + out.string());
        }
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(ctx.string());
        return run_kiln(root_, args);
    }

    // The first check of every test: nothing beside the victim changed on the host.
    void expect_host_unchanged(const Result& r, const std::string& what = "") {
        Snapshot after = snapshot(host_.path());
        if (after != before_) {
            ADD_FAILURE() << "HOST DAMAGE" << (what.empty() ? "" : " (" + what + ")")
                          << ": the build changed the victim " << victim_.string()
                          << " on the host:\n"
                          << snapshot_diff(before_, after) << "kiln " << joined(r);
            // Later builds in the same test are judged against what is there now.
            before_ = after;
        }
    }

    void expect_no_secret_in(const fs::path& out, const std::string& what = "") {
        auto leaked = files_holding(out, kSecret);
        EXPECT_TRUE(leaked.empty())
            << "the host file " << (victim_ / "secret").string() << " was read into the image"
            << (what.empty() ? "" : " (") << what << (what.empty() ? "" : ")") << ": "
            << ::testing::PrintToString(leaked);
    }

    // Expectations on the exported image, with what BuildKit does as the reason.
    static void expect_file(const fs::path& out, const std::string& image_path,
                            const std::string& content, const std::string& why) {
        fs::path p = at(out, image_path);
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            ADD_FAILURE() << "the image has no regular file " << image_path << " (" << why << ")";
            return;
        }
        EXPECT_EQ(slurp(p), content) << "content of " << image_path << " (" << why << ")";
    }
    static void expect_dir(const fs::path& out, const std::string& image_path,
                           const std::string& why) {
        struct stat st;
        EXPECT_TRUE(::lstat(at(out, image_path).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
            << "the image has no directory " << image_path << " (" << why << ")";
    }
    static void expect_symlink(const fs::path& out, const std::string& image_path,
                               const std::string& target, const std::string& why) {
        fs::path p = at(out, image_path);
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
            ADD_FAILURE() << image_path << " is not a symlink in the image (" << why << ")";
            return;
        }
        EXPECT_EQ(fs::read_symlink(p).string(), target)
            << "target of " << image_path << " (" << why << ")";
    }
    static void expect_built(const Result& r, const std::string& why) {
        EXPECT_EQ(r.exit_code, 0) << "kiln must build this, writing inside the image root (" << why
                                  << "): " << joined(r);
    }
    // A user error: exit 1, one "error: Dockerfile:N: …" line (line 0: an error of the
    // export, which names no line) that speaks of image paths (not of kiln's snapshot
    // directories), no crash.
    void expect_clean_error(const Result& r, int line, const std::string& mention) {
        EXPECT_EQ(r.exit_code, 1) << "want a clean user error (exit 1): " << joined(r);
        std::string l = error_line(r);
        EXPECT_NE(l, "") << "no \"error: \" line: " << joined(r);
        if (line > 0) {
            EXPECT_NE(l.find("Dockerfile:" + std::to_string(line) + ":"), std::string::npos)
                << "the error must name the Dockerfile line: " << joined(r);
        }
        EXPECT_NE(lower(l).find(lower(mention)), std::string::npos)
            << "the error must say \"" << mention << "\": " << joined(r);
        EXPECT_EQ(l.find(root_.string()), std::string::npos)
            << "the error names kiln's snapshot directory instead of the image path: " << l;
        for (const char* crash : {"terminate called", "what():", "Aborted", "Segmentation"})
            EXPECT_EQ(r.err.find(crash), std::string::npos) << "kiln crashed: " << joined(r);
    }

    void make_tar(const std::vector<json>& entries, const fs::path& out) {
        fs::create_directories(out.parent_path());
        fs::path spec = out.string() + ".json";
        write(spec, json(entries).dump());
        Result r = run({"python3", "-c", kTarScript, spec.string(), out.string()});
        ASSERT_EQ(r.exit_code, 0) << "python3 tarfile: " << joined(r);
        fs::remove(spec);
    }

    Scratch host_;  // the victim and nothing else: every change in it is host damage
    Scratch work_;  // the state root, contexts, outputs
    fs::path root_;
    fs::path victim_;
    Snapshot before_;
};

// The same attacks on both snapshotters: overlayfs (the default here) and the copying
// one (--snapshotter native), where a snapshot is a plain directory tree.
class ContainmentBySnapshotter : public Containment,
                                 public ::testing::WithParamInterface<std::string> {
  protected:
    std::vector<std::string> snapshotter_args() const override {
        if (GetParam() == "default")
            return {};
        return {"--snapshotter", GetParam()};
    }
};

const std::string kInRoot = "BuildKit resolves the link inside the image root";

}  // namespace

// ---------------------------------------------------------------------------
// Links that come from the build context

TEST_F(Containment, ContextAbsoluteLinkAsCopyDestParent) {
    fs::path ctx = context("ctx", "FROM scratch\nCOPY links/ /\nCOPY newf /x/\n", {{"newf", kNewf}},
                           {{"links/x", v()}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/x", v(), "the copied link is kept as a link");
    expect_file(out, v() + "/newf", kNewf, kInRoot + ": /x/ is " + v() + "/ in the image");
}

TEST_F(Containment, ContextRelativeLinkAsCopyDestParent) {
    fs::path ctx = context("ctx", "FROM scratch\nCOPY links/ /\nCOPY newf /x/\n", {{"newf", kNewf}},
                           {{"links/x", up_to(v())}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot + "; `..` stops at the image root");
    expect_symlink(out, "/x", up_to(v()), "the copied link is kept as a link");
    expect_file(out, v() + "/newf", kNewf, kInRoot + ": /x/ is " + v() + "/ in the image");
}

// ---------------------------------------------------------------------------
// Links made by RUN

TEST_P(ContainmentBySnapshotter, RunMadeLinkCopyToPathBelowIt) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nCOPY newf /x/newf\n",
                           {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/x", v(), "RUN made it");
    expect_file(out, v() + "/newf", kNewf, kInRoot);
}

TEST_P(ContainmentBySnapshotter, RunMadeLinkCopyIntoIt) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nCOPY newf /x/\n", {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/x", v(), "RUN made it");
    expect_file(out, v() + "/newf", kNewf, kInRoot);
}

TEST_P(ContainmentBySnapshotter, RunMadeRelativeLinkCopyIntoIt) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + up_to(v()) + " /x\nCOPY newf /x/\n",
                           {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot + "; `..` stops at the image root");
    expect_file(out, v() + "/newf", kNewf, kInRoot);
}

TEST_F(Containment, RunMadeLinkCopyWithChmod) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nCOPY --chmod=777 newf /x/\n",
                {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_file(out, v() + "/newf", kNewf, kInRoot);
    struct stat st;
    if (::lstat(at(out, v() + "/newf").c_str(), &st) == 0) {
        EXPECT_EQ(st.st_mode & 07777, 0777u) << "--chmod=777 on the copied file";
    }
}

TEST_F(Containment, RunMadeLinkCopyWithChown) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nCOPY --chown=1:1 newf /x/\n",
                {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_file(out, v() + "/newf", kNewf, kInRoot);
    struct stat st;
    if (::lstat(at(out, v() + "/newf").c_str(), &st) == 0) {
        EXPECT_EQ(st.st_uid, 1u) << "--chown=1:1 on the copied file";
        EXPECT_EQ(st.st_gid, 1u) << "--chown=1:1 on the copied file";
    }
}

// A directory of the context merged over an image directory that holds a link of the
// same name: the link is replaced or the copy refused (BuildKit: "cannot copy to
// non-directory"), never written through.
TEST_F(Containment, CopyDirMergedOverImageLink) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN mkdir /d && ln -s " + v() + " /d/l\nCOPY d/ /d/\n",
                {{"d/l/pwned", "pwned\n"}, {"d/l/secret", "overwritten\n"}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_no_secret_in(out);
}

// ---------------------------------------------------------------------------
// Heredocs

TEST_P(ContainmentBySnapshotter, HeredocThroughLinkOntoHostFile) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + v() +
                                      " /h\nCOPY <<EOF /h/secret\nin-image secret\nEOF\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r, "the host's secret must not be overwritten");
    expect_built(r, kInRoot);
    expect_file(out, v() + "/secret", "in-image secret\n", kInRoot);
}

TEST_F(Containment, HeredocIntoLinkedDir) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /h\nCOPY <<EOF /h/\nheredoc\nEOF\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_file(out, v() + "/EOF", "heredoc\n", kInRoot + "; the file is named by the delimiter");
}

TEST_F(Containment, HeredocOntoLinkToDir) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    // The link's target exists in the image as a directory, so /h is a directory.
    fs::path ctx = context("ctx", "FROM base:1\nRUN mkdir -p " + v() + " && ln -s " + v() +
                                      " /h\nCOPY <<EOF /h\nheredoc\nEOF\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/h", v(), "the link stays");
    expect_file(out, v() + "/EOF", "heredoc\n",
                kInRoot + ": /h is a directory there, so the heredoc is a file in it");
}

// ---------------------------------------------------------------------------
// A link to a file as the destination

TEST_F(Containment, CopyOntoLinkToHostFile) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + v() + "/secret /f\nCOPY newf /f\n",
                           {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r, "the host's secret must not be overwritten");
    expect_built(r, kInRoot);
    expect_symlink(out, "/f", v() + "/secret",
                   "BuildKit writes through a last-component link, so the link stays");
    expect_file(out, v() + "/secret", kNewf,
                "BuildKit writes through the last-component link, inside the image root");
}

// ---------------------------------------------------------------------------
// COPY --from a stage holding links

TEST_F(Containment, CopyFromStageLinkSourceNotFoundInStage) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context(
        "ctx", "FROM base:1 AS a\nRUN ln -s " + v() + " /x\nFROM scratch\nCOPY --from=a /x /y\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_no_secret_in(out);
    // /x is followed in stage a's root, where the victim's path does not exist.
    expect_clean_error(r, 4, "not found");
}

TEST_F(Containment, CopyFromStagePathBelowLinkNotFoundInStage) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1 AS a\nRUN ln -s " + v() +
                                      " /x\nFROM scratch\nCOPY --from=a /x/secret /s\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_no_secret_in(out);
    expect_clean_error(r, 4, "not found");
}

TEST_F(Containment, CopyFromStageLinkResolvesInsideStage) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1 AS a\nRUN mkdir -p " + v() + " && echo in-stage > " +
                                      v() + "/secret && ln -s " + v() +
                                      " /x\nFROM scratch\nCOPY --from=a /x/secret /s\n"
                                      "COPY --from=a /x /y\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_no_secret_in(out);
    EXPECT_EQ(r.exit_code, 0) << joined(r);
    expect_file(out, "/s", "in-stage\n", "the source link is followed in the stage's root");
    expect_file(out, "/y/secret", "in-stage\n", "the source link is followed in the stage's root");
}

// ---------------------------------------------------------------------------
// Users and groups: read from the image's /etc, links followed inside the root

TEST_F(Containment, ChownNameReadsPasswdAndGroupInsideRoot) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    // /etc/passwd -> <victim>/passwd names the user "evil" on the host, not in the image.
    fs::path ctx = context("ctx",
                           "FROM base:1\nRUN rm /etc/passwd && ln -s " + v() +
                               "/passwd /etc/passwd\nCOPY --chown=evil newf /f\n",
                           {{"newf", kNewf}});
    Result r = build(ctx, work_ / "out");
    expect_host_unchanged(r);
    expect_clean_error(r, 3, "unable to find user evil");

    fs::path ctx2 = context("ctx2",
                            "FROM base:1\nRUN rm /etc/group && ln -s " + v() +
                                "/group /etc/group\nCOPY --chown=0:evilgrp newf /f\n",
                            {{"newf", kNewf}});
    r = build(ctx2, work_ / "out2");
    expect_host_unchanged(r);
    expect_clean_error(r, 3, "unable to find group evilgrp");
}

TEST_F(Containment, RunUserReadsPasswdInsideRoot) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN rm /etc/passwd && ln -s " + v() +
                                      "/passwd /etc/passwd\nUSER evil\nRUN true\n");
    Result r = build(ctx, work_ / "out");
    expect_host_unchanged(r);
    expect_clean_error(r, 4, "unable to find user evil");
}

// ---------------------------------------------------------------------------
// WORKDIR

TEST_P(ContainmentBySnapshotter, WorkdirThroughLink) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    // The victim has a "sub" on the host; the image has none.
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nWORKDIR /x/sub\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/x", v(), "RUN made it");
    expect_dir(out, v() + "/sub",
               kInRoot + ": WORKDIR makes /x/sub there, whatever the host has at that path");
}

TEST_F(Containment, WorkdirThroughLinkToRoot) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s / /r\nWORKDIR /r" + v() + "/wd\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot + ": a link to / is the image root");
    expect_symlink(out, "/r", "/", "RUN made it");
    expect_dir(out, v() + "/wd", kInRoot);
}

TEST_F(Containment, WorkdirOnLinkThenRelativeCopy) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nWORKDIR /x\nCOPY newf .\n",
                {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_file(out, v() + "/newf", kNewf, kInRoot);
}

// ---------------------------------------------------------------------------
// RUN --mount targets below a link

TEST_F(Containment, RunMountTargetsBelowLink) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx",
                           "FROM base:1\nRUN ln -s " + v() +
                               " /x\n"
                               "RUN --mount=type=tmpfs,target=/x/tmpfs-mnt true\n"
                               "RUN --mount=type=bind,source=newf,target=/x/bind-mnt true\n"
                               "RUN --mount=type=cache,target=/x/cache-mnt true\n"
                               "RUN --mount=type=bind,source=newf,target=/x/secret cat /x/secret\n",
                           {{"newf", kNewf}});
    Result r = build(ctx, work_ / "out");
    expect_host_unchanged(r);
    EXPECT_EQ(r.exit_code, 0) << "mount targets are made inside the image root: " << joined(r);
    expect_no_secret_in(work_ / "out");
}

// ---------------------------------------------------------------------------
// ADD

// A local archive whose entries try to leave the destination: the build fails or skips
// them; nothing reaches the host and nothing of the host reaches the image.
TEST_F(Containment, AddArchiveWithEscapingEntries) {
    const std::vector<std::pair<std::string, std::vector<json>>> archives = {
        {"dotdot", {file_entry("../../escape", "escape\n"), file_entry("ok", "ok\n")}},
        {"dotdot-to-victim", {file_entry(up_to(v()) + "/pwned", "pwned\n")}},
        {"absolute", {file_entry(v() + "/abs-pwned", "abs\n")}},
        {"absolute-over-secret", {file_entry(v() + "/secret", "overwritten\n")}},
        {"symlink-then-below", {symlink_entry("l", v()), file_entry("l/pwned", "pwned\n")}},
        {"relative-symlink-then-below",
         {symlink_entry("rl", up_to(v())), file_entry("rl/pwned", "pwned\n")}},
        {"symlink-then-dir-below",
         {symlink_entry("l", v()), dir_entry("l/newdir"), file_entry("l/newdir/f", "f\n")}},
        {"symlink-to-file-then-overwrite",
         {symlink_entry("s", v() + "/secret"), file_entry("s", "overwritten\n")}},
        {"hardlink-absolute", {hardlink_entry("hl", v() + "/secret")}},
        {"hardlink-relative", {hardlink_entry("hl", up_to(v()) + "/secret")}},
        {"hardlink-through-symlink", {symlink_entry("l", v()), hardlink_entry("hl", "l/secret")}},
    };
    for (const auto& [name, entries] : archives) {
        SCOPED_TRACE("archive " + name);
        fs::path ctx = context("ctx-" + name, "FROM scratch\nADD evil.tar /dst/\n");
        ASSERT_NO_FATAL_FAILURE(make_tar(entries, ctx / "evil.tar"));
        fs::path out = work_ / ("out-" + name);
        Result r = build(ctx, out);
        std::printf("[ outcome  ] archive %s: %s\n", name.c_str(),
                    r.exit_code == 0 ? "built" : error_line(r).c_str());
        expect_host_unchanged(r, "ADD of archive " + name);
        expect_no_secret_in(out, "ADD of archive " + name);
        if (r.exit_code != 0)
            expect_clean_error(r, 2, "");
        // Nothing landed beside the extraction directory in kiln's own state either
        // (inside a snapshot or an export it is inside an image).
        for (auto it = fs::recursive_directory_iterator(work_.path());
             it != fs::recursive_directory_iterator(); ++it) {
            std::string p = it->path().string();
            std::string n = it->path().filename();
            if ((n == "escape" || n == "abs-pwned" || n == "pwned") &&
                p.find("/snapshots/") == std::string::npos && p.find("/out-") == std::string::npos)
                ADD_FAILURE() << "an archive entry was written outside any image: " << p;
        }
    }
}

TEST_P(ContainmentBySnapshotter, AddArchiveIntoLink) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    fs::path ctx = context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nADD good.tar /x/\n");
    ASSERT_NO_FATAL_FAILURE(
        make_tar({file_entry("a.txt", "a\n"), dir_entry("d"), file_entry("d/b.txt", "b\n")},
                 ctx / "good.tar"));
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_symlink(out, "/x", v(), "the link stays; the archive is unpacked where it points");
    expect_file(out, v() + "/a.txt", "a\n", kInRoot);
    expect_file(out, v() + "/d/b.txt", "b\n", kInRoot);
}

TEST_F(Containment, AddUrlIntoLink) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    const std::string served = "fetched over http\n";
    write(work_ / "srv/f", served);
    HttpServer server(work_ / "srv", work_ / "port");
    ASSERT_NE(server.port(), 0) << "python3 http.server did not start";
    std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/f";
    fs::path ctx =
        context("ctx", "FROM base:1\nRUN ln -s " + v() + " /x\nADD --checksum=" +
                           kiln::content::Digest::of(served).str() + " " + url + " /x/\n");
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    expect_built(r, kInRoot);
    expect_file(out, v() + "/f", served, kInRoot);
}

// ---------------------------------------------------------------------------
// -o type=local and base layers

TEST_F(Containment, LocalOutputKeepsLinksAsLinks) {
    fs::path ctx =
        context("ctx", "FROM scratch\nCOPY links/ /\n", {{"links/d/inner.txt", "inner\n"}},
                {{"links/a", v()},
                 {"links/r", up_to(v())},
                 {"links/s", v() + "/secret"},
                 {"links/d/up", "../../../../../../.."}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    expect_symlink(out, "/a", v(), "links are exported as links");
    expect_symlink(out, "/r", up_to(v()), "links are exported as links");
    expect_symlink(out, "/s", v() + "/secret", "links are exported as links");
    expect_symlink(out, "/d/up", "../../../../../../..", "links are exported as links");
    expect_file(out, "/d/inner.txt", "inner\n", "a plain file");
    expect_no_secret_in(out);
}

// Images no builder would make, loaded with `kiln load`: a first layer with links to the
// victim, a second layer with entries below (or over) those links. Unpacking them for a
// snapshot (FROM + COPY) or for -o type=local resolves each path inside the root
// (containerd does: the entry lands below the link's in-root target) or refuses it.
TEST_P(ContainmentBySnapshotter, LoadedLayersBelowLinks) {
    std::vector<json> links = {symlink_entry("a", v()),
                               symlink_entry("r", up_to(v())),
                               symlink_entry("s", v() + "/secret"),
                               symlink_entry("top", "/"),
                               dir_entry("plain"),
                               file_entry("plain/f", "plain\n")};
    const std::vector<std::pair<std::string, std::vector<json>>> upper = {
        {"file-below-absolute-link", {file_entry("a/pwned", "pwned\n")}},
        {"file-below-relative-link", {file_entry("r/pwned", "pwned\n")}},
        {"file-below-link-to-root", {file_entry("top/" + vrel() + "/pwned", "pwned\n")}},
        {"overwrite-through-link", {file_entry("a/secret", "overwritten\n")}},
        {"whiteout-through-link", {file_entry("a/.wh.secret", "")}},
        {"opaque-whiteout-through-link", {file_entry("a/.wh..wh..opq", "")}},
        {"whiteout-through-relative-link", {file_entry("r/sub/.wh.inner", "")}},
        {"file-over-link-to-file", {file_entry("s", "replaced\n")}},
        {"hardlink-through-link", {hardlink_entry("hl", "a/secret")}},
        {"dir-below-link", {dir_entry("a/newdir"), file_entry("a/newdir/f", "f\n")}},
    };
    ASSERT_NO_FATAL_FAILURE(make_tar(links, work_ / "layers/links.tar"));
    int n = 0;
    for (const auto& [name, entries] : upper) {
        SCOPED_TRACE("second layer: " + name);
        std::string tag = "evil-" + std::to_string(++n) + ":1";
        fs::path layer = work_ / "layers" / (name + ".tar");
        ASSERT_NO_FATAL_FAILURE(make_tar(entries, layer));
        fs::path archive = work_ / "archives" / (name + ".tar");
        fs::create_directories(archive.parent_path());
        std::string err = write_docker_archive({work_ / "layers/links.tar", layer}, tag, archive);
        ASSERT_EQ(err, "");
        Result load = run_kiln(root_, {"load", "-i", archive.string(), "-t", tag});
        expect_host_unchanged(load, "kiln load of " + name);
        if (load.exit_code != 0)
            continue;  // refused at load: nothing to unpack
        // -o type=local alone (the exporter unpacks the layers) ...
        fs::path out = work_ / ("out-" + name);
        Result r = build(context("ctx-" + name, "FROM " + tag + "\n"), out);
        expect_host_unchanged(r, "-o type=local of " + name);
        expect_no_secret_in(out, name);
        std::printf("[ outcome  ] %s, -o type=local: %s\n", name.c_str(),
                    r.exit_code == 0 ? "built" : error_line(r).c_str());
        if (r.exit_code == 0) {
            expect_symlink(out, "/a", v(), "exported as a link, not followed");
            expect_symlink(out, "/r", up_to(v()), "exported as a link, not followed");
        } else {
            expect_clean_error(r, 0, "");
        }
        // ... and a step on top (the snapshotter unpacks the layers).
        fs::path ctx2 =
            context("ctx2-" + name, "FROM " + tag + "\nCOPY newf /newf\n", {{"newf", kNewf}});
        fs::path out2 = work_ / ("out2-" + name);
        r = build(ctx2, out2);
        std::printf("[ outcome  ] %s, COPY on top: %s\n", name.c_str(),
                    r.exit_code == 0 ? "built" : error_line(r).c_str());
        expect_host_unchanged(r, "snapshot of " + name);
        expect_no_secret_in(out2, name);
        // An error in a base layer is reported on the FROM line that brought it when a
        // step unpacks it, or by the output that does (no line then).
        if (r.exit_code == 0) {
            expect_file(out2, "/newf", kNewf, "the COPY on top");
        } else {
            expect_clean_error(r, 0, "");
            const std::string line = error_line(r);
            if (line.find("Dockerfile:") != std::string::npos) {
                EXPECT_NE(line.find("Dockerfile:1: FROM " + tag + ": layer "), std::string::npos)
                    << line;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Loops and `..` chains

TEST_F(Containment, LinkLoopAsCopyDestination) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    const std::string loop = "FROM base:1\nRUN ln -s /b /a && ln -s /a /b\n";
    int n = 0;
    for (const std::string step : {"COPY newf /a/\n", "COPY newf /a/f\n", "WORKDIR /a/w\n"}) {
        SCOPED_TRACE(step);
        fs::path ctx = context("ctx-" + std::to_string(++n), loop + step, {{"newf", kNewf}});
        Result r = build(ctx, work_ / "out");
        expect_host_unchanged(r);
        expect_clean_error(r, 3, "link");
    }
    // A loop through `..`: /d/l -> ../d/l.
    fs::path ctx = context("ctx-dotdot-loop",
                           "FROM base:1\nRUN mkdir /d && ln -s ../d/l /d/l\nCOPY newf /d/l/\n",
                           {{"newf", kNewf}});
    Result r = build(ctx, work_ / "out");
    expect_host_unchanged(r);
    expect_clean_error(r, 3, "link");
}

// `..` in a destination is lexical and stops at /, as in BuildKit: these are plain
// in-root paths.
TEST_F(Containment, DotDotChainsAsDestination) {
    ASSERT_NO_FATAL_FAILURE(make_base());
    std::string ups;
    for (int i = 0; i < kUp; ++i)
        ups += "../";
    fs::path ctx = context("ctx",
                           "FROM base:1\nCOPY newf /" + ups + vrel() + "/dd/\nWORKDIR /" + ups +
                               vrel() + "/wd\nWORKDIR /w\nCOPY newf " + ups + vrel() + "/rel/\n",
                           {{"newf", kNewf}});
    fs::path out = work_ / "out";
    Result r = build(ctx, out);
    expect_host_unchanged(r);
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    expect_file(out, v() + "/dd/newf", kNewf, "`..` stops at the image root");
    expect_dir(out, v() + "/wd", "`..` stops at the image root");
    expect_file(out, v() + "/rel/newf", kNewf, "`..` stops at the image root");
}

INSTANTIATE_TEST_SUITE_P(Containment, ContainmentBySnapshotter,
                         ::testing::Values(std::string("default"), std::string("native")),
                         [](const auto& info) { return info.param; });
