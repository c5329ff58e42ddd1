// Differential tests of COPY against buildah (Debian's buildah, --isolation chroot, a
// storage root of its own, vfs driver): each case in testdata/copy/ is built by kiln and by
// buildah on the same base image (testdata/copy/base, built by kiln and handed to buildah
// as an OCI layout), both images are unpacked with umoci, and the trees must match entry by
// entry: path, type, mode, uid, gid, size, link target, content digest (timestamps aside).
//
// Where BuildKit and buildah are known to differ, kiln follows BuildKit: kModeExceptions
// below lists those paths with the reason, and checks kiln's value against BuildKit's.
//
// Needs root (umoci unpack keeps owners; buildah with vfs), buildah, umoci.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "content/digest.h"
#include "harness.h"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

const fs::path kCases = fs::path(KILN_TESTDATA_DIR) / "copy";

struct Entry {
    char type = '?';  // f d l c b p
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    off_t size = 0;
    std::string link;
    std::string digest;

    std::string str() const {
        std::ostringstream o;
        o << type << " mode=" << std::oct << mode << std::dec << " " << uid << ":" << gid
          << " size=" << size;
        if (!link.empty())
            o << " -> " << link;
        if (!digest.empty())
            o << " " << digest.substr(0, 19);
        return o.str();
    }
    bool operator==(const Entry& e) const {
        return type == e.type && mode == e.mode && uid == e.uid && gid == e.gid && size == e.size &&
               link == e.link && digest == e.digest;
    }
};

std::string file_digest(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return content::Digest::of(ss.str()).str();
}

std::map<std::string, Entry> tree_of(const fs::path& root) {
    std::map<std::string, Entry> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        struct stat st;
        if (::lstat(it->path().c_str(), &st) != 0)
            continue;
        Entry e;
        e.mode = st.st_mode & 07777;
        e.uid = st.st_uid;
        e.gid = st.st_gid;
        if (S_ISREG(st.st_mode)) {
            e.type = 'f';
            e.size = st.st_size;
            e.digest = file_digest(it->path());
        } else if (S_ISDIR(st.st_mode)) {
            e.type = 'd';
        } else if (S_ISLNK(st.st_mode)) {
            e.type = 'l';
            e.link = fs::read_symlink(it->path()).string();
            e.mode = 0;  // symlink permissions carry no meaning on Linux
        } else if (S_ISCHR(st.st_mode)) {
            e.type = 'c';
        } else if (S_ISBLK(st.st_mode)) {
            e.type = 'b';
        } else if (S_ISFIFO(st.st_mode)) {
            e.type = 'p';
        }
        out["/" + it->path().lexically_relative(root).string()] = e;
    }
    return out;
}

// Groups of paths hard-linked to each other (by inode), each group sorted.
std::set<std::vector<std::string>> link_groups(const fs::path& root) {
    std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> by_inode;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        struct stat st;
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1)
            by_inode[{st.st_dev, st.st_ino}].push_back(
                "/" + it->path().lexically_relative(root).string());
    }
    std::set<std::vector<std::string>> out;
    for (auto& [k, v] : by_inode) {
        std::sort(v.begin(), v.end());
        out.insert(v);
    }
    return out;
}

// Paths (in a case) whose mode BuildKit and buildah make differently; kiln follows
// BuildKit, so the mode is checked against BuildKit's value here instead of buildah's
// (every other field is still compared).
struct ModeException {
    mode_t buildkit_mode;
    const char* why;
};
const std::map<std::string, std::map<std::string, ModeException>> kModeExceptions = {
    // buildah 1.28 clears setuid/setgid on files it copies from the build context (it
    // keeps them when --chmod sets them: see the chmod case); BuildKit keeps the whole
    // mode (fsutil's copy chmods to the source's FileMode, ModeSetuid/ModeSetgid
    // included), and issue 5 asks for them to be kept.
    {"setuid",
     {{"/su/suid", {04755, "buildah strips setuid"}},
      {"/su/sgid", {02711, "buildah strips setgid"}}}},
};

class CopyDiff : public ::testing::TestWithParam<std::string> {
  protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0 || !have_tool("buildah") || !have_tool("umoci"))
            return;
        dir_ = new Scratch();
        const Scratch& d = *dir_;
        // The base: built by kiln into its store and into an OCI layout for buildah.
        fs::copy(kCases / "base", d / "base-ctx", fs::copy_options::recursive);
        fs::copy_file(busybox_path(), d / "base-ctx" / "busybox");
        ::chmod((d / "base-ctx" / "busybox").c_str(), 0755);
        Result r = run_kiln(d / "root", {"build", "-t", "copy-base", (d / "base-ctx").string()});
        if (r.exit_code != 0) {
            setup_error_ = "kiln base build failed: " + r.err;
            return;
        }
        r = run_kiln(d / "root",
                     {"build", "-t", "copy-base", "-o",
                      "type=oci,dest=" + (d / "base-oci").string(), (d / "base-ctx").string()});
        if (r.exit_code != 0) {
            setup_error_ = "kiln base OCI build failed: " + r.err;
            return;
        }
        // kiln names the manifest in an OCI layout by the tag ("latest").
        // buildah names what it pulls from an oci: path after the path, which must be
        // lowercase (the scratch dir's name is not): pull through a lowercase link.
        fs::path link = "/tmp/kiln-copydiff-base-" + std::to_string(::getpid());
        fs::remove(link);
        fs::create_directory_symlink(d / "base-oci", link);
        r = run(buildah({"pull", "-q", "oci:" + link.string() + ":latest"}));
        fs::remove(link);
        if (r.exit_code != 0) {
            setup_error_ = "buildah pull failed: " + r.err;
            return;
        }
        std::string id = r.out.substr(0, r.out.find_last_not_of("\n") + 1);
        id = id.substr(id.find_last_of('\n') == std::string::npos ? 0 : id.find_last_of('\n') + 1);
        r = run(buildah({"tag", id, "localhost/copy-base:latest"}));
        if (r.exit_code != 0)
            setup_error_ = "buildah tag failed: " + r.err;
    }

    static void TearDownTestSuite() {
        if (dir_)
            run(buildah({"rmi", "--all", "--force"}));
        delete dir_;
        dir_ = nullptr;
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

    static fs::path unpack(const fs::path& layout, const std::string& tag, const fs::path& bundle) {
        Result r =
            run({"umoci", "unpack", "--image", layout.string() + ":" + tag, bundle.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return bundle / "rootfs";
    }

    static Scratch* dir_;
    static std::string setup_error_;
};

Scratch* CopyDiff::dir_ = nullptr;
std::string CopyDiff::setup_error_;

TEST_P(CopyDiff, SameTreeAsBuildah) {
    if (!dir_)
        GTEST_SKIP() << "needs root, buildah and umoci";
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    const std::string name = GetParam();
    fs::path work = *dir_ / name;
    fs::path ctx = work / "ctx";
    fs::create_directories(work);
    fs::copy(kCases / name, ctx, fs::copy_options::recursive);
    if (fs::exists(ctx / "prepare.sh")) {
        Result r = run({"sh", "-ec", "cd \"$0\" && . ./prepare.sh", ctx.string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        fs::remove(ctx / "prepare.sh");
    }
    fs::path buildah_df = ctx / "Dockerfile";
    if (fs::exists(ctx / "Dockerfile.buildah")) {
        fs::rename(ctx / "Dockerfile.buildah", work / "Dockerfile.buildah");
        buildah_df = work / "Dockerfile.buildah";
    }

    Result r = run_kiln(
        *dir_ / "root",
        {"build", "-t", name, "-o", "type=oci,dest=" + (work / "kiln-oci").string(), ctx.string()});
    ASSERT_EQ(r.exit_code, 0) << "kiln: " << r.err;
    r = run(buildah({"build", "--isolation", "chroot", "--pull=never", "-f", buildah_df.string(),
                     "-t", "localhost/" + name, ctx.string()}));
    ASSERT_EQ(r.exit_code, 0) << "buildah: " << r.out << r.err;
    r = run(buildah(
        {"push", "localhost/" + name, "oci:" + (work / "buildah-oci").string() + ":" + name}));
    ASSERT_EQ(r.exit_code, 0) << "buildah push: " << r.err;

    fs::path kiln_root = unpack(work / "kiln-oci", "latest", work / "kiln-bundle");
    fs::path buildah_root = unpack(work / "buildah-oci", name, work / "buildah-bundle");
    auto kiln_tree = tree_of(kiln_root);
    auto buildah_tree = tree_of(buildah_root);
    auto exceptions = kModeExceptions.count(name) ? kModeExceptions.at(name)
                                                  : std::map<std::string, ModeException>{};

    std::set<std::string> paths;
    for (auto& [p, e] : kiln_tree)
        paths.insert(p);
    for (auto& [p, e] : buildah_tree)
        paths.insert(p);
    for (const auto& p : paths) {
        auto k = kiln_tree.find(p);
        auto b = buildah_tree.find(p);
        if (auto ex = exceptions.find(p);
            ex != exceptions.end() && k != kiln_tree.end() && b != buildah_tree.end()) {
            EXPECT_EQ(k->second.mode, ex->second.buildkit_mode)
                << name << ": " << p << " (" << ex->second.why << ")";
            k->second.mode = b->second.mode;
        }
        if (k == kiln_tree.end()) {
            ADD_FAILURE() << name << ": " << p << " only in buildah's image: " << b->second.str();
        } else if (b == buildah_tree.end()) {
            ADD_FAILURE() << name << ": " << p << " only in kiln's image: " << k->second.str();
        } else if (!(k->second == b->second)) {
            ADD_FAILURE() << name << ": " << p << "\n  kiln:    " << k->second.str()
                          << "\n  buildah: " << b->second.str();
        }
    }
    EXPECT_EQ(link_groups(kiln_root), link_groups(buildah_root)) << name << ": hard links";
}

std::vector<std::string> case_names() {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(kCases)) {
        if (e.is_directory() && e.path().filename() != "base" &&
            fs::exists(e.path() / "Dockerfile"))
            out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, CopyDiff, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kiln::test
