#include "bookworm_fixture.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "content/digest.h"
#include "harness.h"

namespace kiln::test {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kDebootstrapSeconds = 500;
// How long a test process waits for another one that is making the base.
constexpr int kLockWaitSeconds = 560;

// Where the base is kept between runs (KILN_TEST_CACHE to put it elsewhere).
fs::path cache_dir() {
    if (const char* d = std::getenv("KILN_TEST_CACHE"); d && *d)
        return d;
    return "/var/cache/kiln-tests";
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r\n");
    auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    std::string w;
    while (in >> w)
        out.push_back(w);
    return out;
}

std::string tail(const std::string& text, std::size_t lines) {
    std::size_t pos = text.size();
    for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n)
        pos = text.rfind('\n', pos - 1);
    return pos == std::string::npos ? text : text.substr(pos + 1);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", s);
    return buf;
}

// The Debian architecture of this machine (amd64, arm64, ...).
std::string debian_arch() {
    Result r = run({"dpkg", "--print-architecture"});
    if (r.exit_code == 0 && !trim(r.out).empty())
        return trim(r.out);
    struct utsname u {};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64")
        return "amd64";
    if (m == "aarch64")
        return "arm64";
    return m;
}

// A mirror apt already uses for bookworm itself (not -security or -updates), from
// /etc/apt/sources.list (one-line form) or /etc/apt/sources.list.d/*.list / *.sources
// (deb822); "" when there is none.
std::string bookworm_mirror() {
    std::vector<fs::path> files;
    if (fs::exists("/etc/apt/sources.list"))
        files.push_back("/etc/apt/sources.list");
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/etc/apt/sources.list.d", ec)) {
        auto ext = e.path().extension();
        if (ext == ".list" || ext == ".sources")
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::istringstream in(slurp(f));
        std::string line;
        if (f.extension() == ".sources") {
            // deb822: paragraphs of "Field: value" separated by blank lines.
            std::map<std::string, std::string> para;
            auto check = [&]() -> std::string {
                auto types = words(para["types"]);
                auto suites = words(para["suites"]);
                bool deb = std::find(types.begin(), types.end(), "deb") != types.end();
                bool bookworm = std::find(suites.begin(), suites.end(), "bookworm") != suites.end();
                bool enabled = trim(para["enabled"]) != "no";
                auto uris = words(para["uris"]);
                if (deb && bookworm && enabled && !uris.empty())
                    return uris.front();
                return "";
            };
            while (std::getline(in, line)) {
                if (trim(line).empty()) {
                    if (auto m = check(); !m.empty())
                        return m;
                    para.clear();
                    continue;
                }
                if (line[0] == '#' || line[0] == ' ' || line[0] == '\t')
                    continue;
                auto colon = line.find(':');
                if (colon == std::string::npos)
                    continue;
                std::string key = line.substr(0, colon);
                std::transform(key.begin(), key.end(), key.begin(), ::tolower);
                para[key] = trim(line.substr(colon + 1));
            }
            if (auto m = check(); !m.empty())
                return m;
        } else {
            // "deb [options] URI suite component..."
            while (std::getline(in, line)) {
                auto w = words(line.substr(0, line.find('#')));
                if (w.empty() || w[0] != "deb")
                    continue;
                std::size_t i = 1;
                if (i < w.size() && w[i].starts_with("[")) {
                    while (i < w.size() && w[i].find(']') == std::string::npos)
                        ++i;
                    ++i;
                }
                if (i + 1 < w.size() && w[i + 1] == "bookworm")
                    return w[i];
            }
        }
    }
    return "";
}

// Mount points at or below `dir` (from /proc/self/mountinfo), deepest first.
std::vector<std::string> mounts_under(const fs::path& dir) {
    std::vector<std::string> out;
    std::istringstream in(slurp("/proc/self/mountinfo"));
    std::string line;
    const std::string prefix = dir.string();
    while (std::getline(in, line)) {
        auto f = words(line);
        if (f.size() < 5)
            continue;
        // Octal escapes (\040 for a space) as the kernel writes them.
        std::string mp;
        for (std::size_t i = 0; i < f[4].size(); ++i) {
            if (f[4][i] == '\\' && i + 3 < f[4].size()) {
                mp.push_back(static_cast<char>(std::stoi(f[4].substr(i + 1, 3), nullptr, 8)));
                i += 3;
            } else {
                mp.push_back(f[4][i]);
            }
        }
        if (mp == prefix || mp.starts_with(prefix + "/"))
            out.push_back(mp);
    }
    std::sort(out.begin(), out.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
}

// Removes a work directory of ours. debootstrap mounts /proc, /sys and maybe a bind of
// the host's /dev inside its target; one left behind by a killed run must be unmounted
// first, never deleted through. Returns "" or why the tree was left in place.
std::string remove_work_dir(const fs::path& dir) {
    for (const auto& m : mounts_under(dir))
        ::umount2(m.c_str(), MNT_DETACH);
    if (auto left = mounts_under(dir); !left.empty())
        return "cannot unmount " + left.front() + "; left " + dir.string() + " in place";
    Result r = run({"rm", "-rf", "--one-file-system", dir.string()});
    return r.exit_code == 0 ? "" : "cannot remove " + dir.string() + ": " + r.err;
}

content::Digest file_sha256(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    content::Sha256 h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        if (in.gcount() > 0)
            h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    return h.finish();
}

bool fsync_path(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// Makes the base into `work` and returns the archive's path there, or sets `error`.
fs::path make_base(const fs::path& work, const std::string& mirror, std::string& timing,
                   std::string& error) {
    auto t0 = std::chrono::steady_clock::now();
    fs::path rootfs = work / "rootfs";
    // debootstrap takes a few minutes (it downloads and unpacks about 90 packages: 3.5
    // minutes on a loaded 2-core machine). The limit stays below ctest's --timeout 600
    // (tools/run-tests.sh), so a stuck debootstrap fails here, cleanly, rather than being
    // killed with its mounts in place.
    Result r = run({"timeout", "--kill-after=10", std::to_string(kDebootstrapSeconds),
                    "debootstrap", "--variant=minbase", "bookworm", rootfs.string(), mirror});
    double t_debootstrap = seconds_since(t0);
    for (const auto& m : mounts_under(rootfs))
        ::umount2(m.c_str(), MNT_DETACH);
    if (r.exit_code != 0) {
        std::string log;
        if (fs::exists(rootfs / "debootstrap/debootstrap.log"))
            log = "\ndebootstrap.log:\n" + tail(slurp(rootfs / "debootstrap/debootstrap.log"), 30);
        error = "debootstrap --variant=minbase bookworm " + mirror + " failed (exit " +
                std::to_string(r.exit_code) + " after " + fmt_seconds(t_debootstrap) + "):\n" +
                tail(r.out + r.err, 30) + log;
        return {};
    }
    if (!mounts_under(rootfs).empty()) {
        error = "debootstrap left mounts under " + rootfs.string();
        return {};
    }
    // As Debian's official images: no device nodes or kernel file systems' contents, no
    // debootstrap leftovers, no downloaded packages.
    std::error_code ec;
    for (const char* d : {"dev", "proc", "sys"})
        for (const auto& e : fs::directory_iterator(rootfs / d, ec))
            fs::remove_all(e.path(), ec);
    fs::remove_all(rootfs / "debootstrap", ec);
    for (const auto& e : fs::directory_iterator(rootfs / "var/cache/apt/archives", ec))
        if (e.path().extension() == ".deb")
            fs::remove(e.path(), ec);

    auto t1 = std::chrono::steady_clock::now();
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(rootfs))
        names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    std::vector<std::string> tar = {"tar",
                                    "--create",
                                    "--file",
                                    (work / "layer.tar").string(),
                                    "--directory",
                                    rootfs.string(),
                                    "--format=posix",
                                    "--pax-option=delete=atime,delete=ctime",
                                    "--numeric-owner",
                                    "--xattrs",
                                    "--xattrs-include=*",
                                    "--sort=name",
                                    "--one-file-system",
                                    "--"};
    tar.insert(tar.end(), names.begin(), names.end());
    r = run(tar);
    if (r.exit_code != 0) {
        error = "tar of the bookworm rootfs failed: " + r.err;
        return {};
    }
    if (std::string e = remove_work_dir(rootfs); !e.empty()) {
        error = e;
        return {};
    }
    fs::path archive = work / "bookworm.tar";
    if (std::string e = write_docker_archive({work / "layer.tar"}, "bookworm:test", archive);
        !e.empty()) {
        error = e;
        return {};
    }
    fs::remove(work / "layer.tar", ec);
    timing = "debootstrap " + fmt_seconds(t_debootstrap) + ", layer and archive " +
             fmt_seconds(seconds_since(t1)) + ", total " + fmt_seconds(seconds_since(t0)) +
             " (mirror " + mirror + ")";
    return archive;
}

BookwormBase make_or_find() {
    BookwormBase b;
    if (::geteuid() != 0) {
        b.skip_reason = "needs root (debootstrap, and a cache under /var/cache)";
        return b;
    }
    if (!have_tool("debootstrap")) {
        b.skip_reason = "needs debootstrap (tools/bootstrap.sh installs it)";
        return b;
    }
    const fs::path dir = cache_dir();
    const fs::path final_archive = dir / ("bookworm-minbase-" + debian_arch() + ".v1.tar");
    const fs::path timing_file = final_archive.string() + ".timing";
    auto cached = [&] {
        b.archive = final_archive;
        b.timing = "cached in " + final_archive.string();
        if (fs::exists(timing_file))
            b.timing += " (made by an earlier run: " + trim(slurp(timing_file)) + ")";
        return b;
    };
    // The archive is only ever renamed into place complete, so its presence is enough.
    if (fs::exists(final_archive))
        return cached();

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        b.error = "cannot create " + dir.string() + ": " + ec.message();
        return b;
    }
    // One maker at a time; the others wait here and then find the archive.
    int lock = ::open((dir / "bookworm.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) {
        b.error = "cannot open " + (dir / "bookworm.lock").string();
        return b;
    }
    auto waited = std::chrono::steady_clock::now();
    while (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || seconds_since(waited) > kLockWaitSeconds) {
            b.error = "cannot lock " + (dir / "bookworm.lock").string() +
                      " (another test process has been making the base for " +
                      fmt_seconds(seconds_since(waited)) + ")";
            ::close(lock);
            return b;
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    struct Unlock {
        int fd;
        ~Unlock() { ::close(fd); }
    } unlock{lock};
    if (fs::exists(final_archive))
        return cached();

    // Work dirs of runs that were killed: only the lock holder makes them, so any
    // present now is stale.
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().filename().string().starts_with(".bookworm-tmp-")) {
            if (std::string err = remove_work_dir(e.path()); !err.empty()) {
                b.error = err;
                return b;
            }
        }
    }

    std::string mirror = bookworm_mirror();
    if (mirror.empty()) {
        b.skip_reason = "no bookworm mirror in /etc/apt/sources.list or sources.list.d";
        return b;
    }
    Result probe = run({"python3", "-c",
                        "import sys, urllib.request\n"
                        "urllib.request.urlopen(sys.argv[1], timeout=30).read(1)\n",
                        mirror + "/dists/bookworm/Release"});
    if (probe.exit_code != 0) {
        b.skip_reason =
            "the Debian mirror " + mirror + " is unreachable: " + tail(trim(probe.err), 1);
        return b;
    }

    std::string tmpl_s = (dir / ".bookworm-tmp-XXXXXX").string();
    std::vector<char> tmpl(tmpl_s.begin(), tmpl_s.end());
    tmpl.push_back('\0');
    if (!::mkdtemp(tmpl.data())) {
        b.error = "cannot create a work directory in " + dir.string();
        return b;
    }
    const fs::path work = tmpl.data();
    std::string timing;
    fs::path archive = make_base(work, mirror, timing, b.error);
    if (!archive.empty()) {
        write(work / "timing", timing + "\n");
        fsync_path(archive);
        fs::rename(work / "timing", timing_file, ec);
        fs::rename(archive, final_archive, ec);
        if (ec)
            b.error = "cannot rename the base into " + final_archive.string() + ": " + ec.message();
        fsync_path(dir);
    }
    if (std::string e = remove_work_dir(work); !e.empty() && b.error.empty())
        b.error = e;
    if (b.error.empty()) {
        b.archive = final_archive;
        b.timing = "made now: " + timing;
    }
    return b;
}

}  // namespace

const BookwormBase& bookworm_base() {
    static const BookwormBase base = make_or_find();
    return base;
}

std::string write_docker_archive(const std::vector<fs::path>& layer_tars, const std::string& tag,
                                 const fs::path& out) {
    const fs::path stage = out.parent_path() / ("." + out.filename().string() + ".stage");
    std::error_code ec;
    fs::remove_all(stage, ec);
    fs::create_directories(stage, ec);
    if (ec)
        return "cannot create " + stage.string() + ": " + ec.message();
    json diff_ids = json::array(), layers = json::array(), history = json::array();
    std::vector<std::string> members = {"manifest.json"};
    for (std::size_t i = 0; i < layer_tars.size(); ++i) {
        content::Digest d = file_sha256(layer_tars[i]);
        std::string hex(d.hex());
        fs::create_directories(stage / hex, ec);
        fs::path dst = stage / hex / "layer.tar";
        if (!fs::exists(dst)) {
            fs::create_hard_link(layer_tars[i], dst, ec);
            if (ec)
                fs::copy_file(layer_tars[i], dst, ec);
            if (ec)
                return "cannot stage " + layer_tars[i].string() + ": " + ec.message();
        }
        diff_ids.push_back(d.str());
        layers.push_back(hex + "/layer.tar");
        history.push_back({{"created", "2023-06-10T00:00:00Z"},
                           {"created_by", "kiln tests: layer " + std::to_string(i)}});
        if (std::find(members.begin(), members.end(), hex) == members.end())
            members.push_back(hex);
    }
    json config = {
        {"architecture", debian_arch()},
        {"os", "linux"},
        {"created", "2023-06-10T00:00:00Z"},
        {"config",
         {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
        {"history", history}};
    std::string config_text = config.dump();
    std::string config_name = std::string(content::Digest::of(config_text).hex()) + ".json";
    write(stage / config_name, config_text);
    members.push_back(config_name);
    json manifest =
        json::array({{{"Config", config_name}, {"RepoTags", {tag}}, {"Layers", layers}}});
    write(stage / "manifest.json", manifest.dump());

    fs::path tmp = out.string() + ".tmp";
    std::vector<std::string> argv = {"tar",         "--create",     "--file",          tmp.string(),
                                     "--directory", stage.string(), "--numeric-owner", "--"};
    argv.insert(argv.end(), members.begin(), members.end());
    Result r = run(argv);
    fs::remove_all(stage, ec);
    if (r.exit_code != 0)
        return "tar of the docker-archive failed: " + r.err;
    fs::rename(tmp, out, ec);
    return ec ? "cannot rename " + tmp.string() + ": " + ec.message() : "";
}

}  // namespace kiln::test
