#include "solver/add_op.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/add_source.h"
#include "base/error.h"
#include "base/http_client.h"
#include "base/process.h"
#include "base/unique_fd.h"
#include "snapshotter/layer_apply.h"

extern char** environ;

#include "solver/copy_op.h"
#include "solver/stat_cache.h"

namespace kiln::solver {

namespace fs = std::filesystem;

std::string redact_url(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos)
        return url;
    auto start = scheme + 3;
    auto end = url.find_first_of("/?#", start);
    auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
    if (at == std::string::npos || at < start)
        return url;
    return url.substr(0, start) + "***" + url.substr(at);
}

namespace {

// ---------------------------------------------------------------------------
// Archive extraction

struct ArchiveReadFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveReadFree>;

// A reader for a tar, maybe compressed with one of the filters Docker's ADD knows.
ArchivePtr open_tar(const fs::path& file) {
    ArchivePtr a(archive_read_new());
    if (!a)
        throw Error("out of memory reading " + file.string());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_bzip2(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_format_tar(a.get());
    return a;
}

// ---------------------------------------------------------------------------
// Subprocesses (git)

struct RunResult {
    int status = -1;  // exit code, or 128 + signal
    std::string err;
    std::string out;  // when asked for
};

// Runs git with a clean, non-interactive environment; stderr kept for messages.
RunResult run_process(const std::vector<std::string>& args, const CancelFlag* cancel,
                      bool capture_out = false) {
    ProcessOptions p;
    p.argv = args;
    p.env.emplace();
    for (char** e = environ; *e; ++e) {
        std::string_view v(*e);
        if (!v.starts_with("GIT_TERMINAL_PROMPT=") && !v.starts_with("GIT_ASKPASS=") &&
            !v.starts_with("GIT_DIR=") && !v.starts_with("GIT_WORK_TREE="))
            p.env->emplace_back(*e);
    }
    p.env->emplace_back("GIT_TERMINAL_PROMPT=0");
    p.env->emplace_back("GIT_ASKPASS=/bin/true");
    p.env->emplace_back("LC_ALL=C");
    p.in = Stdio::dev_null();
    p.out = capture_out ? Stdio::piped() : Stdio::dev_null();
    p.err = Stdio::piped();
    RunOptions run;
    run.cancel = cancel;
    run.max_captured = 64 * 1024;
    ProcessResult result;
    try {
        result = kiln::run_process(p, run);
    } catch (const SpawnError& e) {
        errno = e.error;
        throw errno_error("cannot run " + args[0]);
    }
    return {result.exit_code, std::move(result.err), std::move(result.out)};
}

bool ok(const RunResult& r) {
    return r.status == 0;
}

// The line of git's stderr worth showing: the first "fatal:" or "error:", else the last.
std::string last_line(const std::string& s) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t nl = s.find('\n', pos);
        if (nl == std::string::npos)
            nl = s.size();
        std::string line = s.substr(pos, nl - pos);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        if (!line.empty())
            lines.push_back(std::move(line));
        pos = nl + 1;
    }
    for (const char* prefix : {"fatal:", "error:"}) {
        for (const auto& l : lines) {
            if (l.starts_with(prefix))
                return l;
        }
    }
    return lines.empty() ? "" : lines.back();
}

// ---------------------------------------------------------------------------
// HTTP

// ADD's downloads share one client (connections and TLS sessions are reused);
// its limits are more patient than the registry's.
http::HttpClient& download_client() {
    static http::HttpClient client([] {
        http::ClientOptions o;
        o.connect_timeout = std::chrono::seconds(30);
        o.stall_timeout = std::chrono::seconds(60);
        o.user_agent = "kiln";
        return o;
    }());
    return client;
}

}  // namespace

bool is_archive(const fs::path& file) {
    struct stat st;
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return false;
    ArchivePtr a = open_tar(file);
    if (archive_read_open_filename(a.get(), file.c_str(), 64 * 1024) != ARCHIVE_OK)
        return false;
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    // An empty tar (just end-of-archive blocks) is still a tar.
    if (rc == ARCHIVE_EOF)
        return archive_format(a.get()) != 0 || archive_filter_count(a.get()) > 1;
    return rc == ARCHIVE_OK || rc == ARCHIVE_WARN;
}

void extract_archive(const fs::path& archive, const fs::path& dest_dir,
                     const std::optional<std::pair<uid_t, gid_t>>& owner) {
    std::error_code ec;
    fs::create_directories(dest_dir, ec);
    UniqueFd fd(::open(archive.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        throw errno_error("ADD " + archive.string() + ": cannot open the archive");
    snapshotter::ReadFn read = [&](void* buf, std::size_t size) -> std::size_t {
        for (;;) {
            ssize_t n = ::read(fd.get(), buf, size);
            if (n >= 0)
                return static_cast<std::size_t>(n);
            if (errno != EINTR)
                throw errno_error("ADD " + archive.string() + ": cannot read the archive");
        }
    };
    snapshotter::ApplyOptions options;
    options.whiteouts = false;  // ADD is not a layer
    options.owner = owner;
    options.best_effort_xattrs = true;
    options.kind = "ADD";
    snapshotter::apply_layer(read, dest_dir, archive.string(), options);
}

std::string url_filename(const std::string& url) {
    auto scheme = url.find("://");
    std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    auto slash = rest.find('/');
    if (slash == std::string::npos)
        return "";
    std::string path = rest.substr(slash);
    while (!path.empty() && path.back() == '/')
        path.pop_back();
    std::string name = path.substr(path.find_last_of('/') + 1);
    if (name == "." || name == "..")
        return "";
    return name;
}

content::Digest fetch_url(const std::string& url, const fs::path& file, const std::string& checksum,
                          const CancelFlag* cancel) {
    const std::string shown = redact_url(url);
    std::optional<content::Digest> want;
    if (!checksum.empty()) {
        try {
            want = content::Digest::parse(checksum);
        } catch (const Error&) {
            throw Error("ADD " + shown + ": invalid --checksum \"" + checksum +
                        "\" (want sha256:<64 hex digits>)");
        }
    }
    fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    std::string tmpl = (dir / ("." + file.filename().string() + ".kiln-XXXXXX")).string();
    int raw = ::mkstemp(tmpl.data());
    if (raw < 0)
        throw errno_error("ADD " + shown + ": cannot create a temporary file in " + dir.string());
    UniqueFd fd(raw);
    struct Unlink {
        std::string path;
        bool armed = true;
        ~Unlink() {
            if (armed)
                ::unlink(path.c_str());
        }
    } cleanup{tmpl};

    content::Sha256 sha;
    http::Request request;
    request.url = url;
    request.cancel = cancel;
    request.want_filetime = true;
    http::Response response;
    try {
        response = download_client().send(request, [&](const char* data, std::size_t size) {
            write_all(fd.get(), data, size, "the download");
            sha.update(data, size);
        });
    } catch (const http::HttpError& e) {
        throw Error("ADD " + shown + ": cannot fetch: " + e.reason());
    }
    if (response.status >= 400)
        throw Error("ADD " + shown + ": cannot fetch: HTTP status " +
                    std::to_string(response.status));
    content::Digest got = sha.finish();
    if (want && *want != got) {
        throw Error("ADD " + shown + ": checksum mismatch: expected " + want->str() + ", got " +
                    got.str());
    }
    if (::fchmod(fd.get(), 0600) != 0)
        throw errno_error("ADD " + shown + ": cannot set the mode of " + file.string());
    if (response.filetime >= 0) {
        const auto mtime = static_cast<time_t>(response.filetime);
        timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        (void)::futimens(fd.get(), ts);
    }
    if (::fsync(fd.get()) != 0)
        throw errno_error("ADD " + shown + ": cannot write " + file.string());
    if (::rename(tmpl.c_str(), file.c_str()) != 0)
        throw errno_error("ADD " + shown + ": cannot write " + file.string());
    cleanup.armed = false;
    return got;
}

GitUrl parse_git_url(const std::string& url) {
    GitUrl out{url, "", ""};
    if (auto hash = url.rfind('#'); hash != std::string::npos) {
        out.remote = url.substr(0, hash);
        std::string frag = url.substr(hash + 1);
        auto colon = frag.find(':');
        out.ref = frag.substr(0, colon);
        if (colon != std::string::npos)
            out.subdir = frag.substr(colon + 1);
    }
    return out;
}

std::optional<std::string> resolve_git_commit(const std::string& url, const CancelFlag* cancel) {
    const GitUrl g = parse_git_url(url);
    auto is_commit = [](std::string_view s) {
        return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    };
    if (is_commit(g.ref))
        return g.ref;
    if (g.remote.empty() || g.remote[0] == '-' || (!g.ref.empty() && g.ref[0] == '-'))
        return std::nullopt;  // fetch_git says why
    const std::string want = g.ref.empty() ? "HEAD" : g.ref;
    RunResult r = run_process({"git", "ls-remote", "--", g.remote, want}, cancel, true);
    if (!ok(r))
        return std::nullopt;
    // A branch before a tag of the same name (as git checkout), a tag's commit (^{}) before
    // the tag object.
    std::map<std::string, std::string> by_ref;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        auto tab = line.find('\t');
        if (tab != std::string::npos && is_commit(line.substr(0, tab)))
            by_ref[line.substr(tab + 1)] = line.substr(0, tab);
    }
    for (const std::string& name :
         {want, "refs/heads/" + want, "refs/tags/" + want + "^{}", "refs/tags/" + want})
        if (auto it = by_ref.find(name); it != by_ref.end())
            return it->second;
    return std::nullopt;
}

void fetch_git(const std::string& url, const fs::path& dir, bool keep_git_dir,
               const CancelFlag* cancel) {
    auto [remote, ref, subdir] = parse_git_url(url);
    const std::string shown = redact_url(url);
    auto fail = [&](const std::string& what, const RunResult* r) -> Error {
        std::string detail = r ? last_line(r->err) : "";
        // git echoes the remote in its messages: keep credentials out.
        if (!detail.empty() && remote != redact_url(remote)) {
            for (auto p = detail.find(remote); p != std::string::npos; p = detail.find(remote))
                detail.replace(p, remote.size(), redact_url(remote));
        }
        return Error("ADD " + shown + ": " + what + (detail.empty() ? "" : ": " + detail));
    };
    // A local path is resolved before git runs in its own directory.
    if (remote.find("://") == std::string::npos && !is_git_source(remote) && !remote.empty() &&
        fs::exists(remote)) {
        remote = fs::absolute(remote).string();
    }
    if (!remote.empty() && remote[0] == '-')
        throw fail("invalid git URL", nullptr);
    if (!ref.empty() && ref[0] == '-')
        throw fail("invalid git ref \"" + ref + "\"", nullptr);

    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir)) && !(fs::is_directory(dir) && fs::is_empty(dir)))
        throw fail("the destination " + dir.string() + " exists and is not empty", nullptr);
    fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
    fs::create_directories(parent, ec);
    std::string tmpl = (parent / ".kiln-git-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw errno_error("ADD " + shown + ": cannot create a directory in " + parent.string());
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{tmpl};
    const std::string work = tmpl + "/checkout";

    auto git = [&](std::vector<std::string> args) {
        std::vector<std::string> full = {
            "git", "-c", "advice.detachedHead=false", "-c", "init.defaultBranch=main", "-C", work};
        full.insert(full.end(), args.begin(), args.end());
        return run_process(full, cancel);
    };
    fs::create_directory(work, ec);
    if (RunResult r = git({"init", "-q"}); !ok(r))
        throw fail("git init failed", &r);
    if (RunResult r = git({"remote", "add", "origin", remote}); !ok(r))
        throw fail("git remote add failed", &r);
    std::string want = ref.empty() ? "HEAD" : ref;
    RunResult shallow = git({"fetch", "-q", "--depth=1", "--no-tags", "--", "origin", want});
    std::string checkout = "FETCH_HEAD";
    if (!ok(shallow)) {
        // Servers that refuse shallow or by-commit fetches: fetch everything, then resolve.
        RunResult full =
            git({"fetch", "-q", "--tags", "--", "origin", "+refs/heads/*:refs/remotes/origin/*"});
        if (!ok(full))
            throw fail("git fetch failed", &shallow);
        checkout.clear();
        for (const std::string& cand : {want, "origin/" + want}) {
            if (ok(git({"rev-parse", "-q", "--verify", cand + "^{commit}"}))) {
                checkout = cand;
                break;
            }
        }
        if (checkout.empty())
            throw fail("git ref \"" + want + "\" not found", &shallow);
    }
    if (RunResult r = git({"checkout", "-q", "--detach", checkout}); !ok(r))
        throw fail("git checkout of \"" + want + "\" failed", &r);
    if (fs::exists(work + "/.gitmodules")) {
        if (RunResult r = git({"submodule", "update", "-q", "--init", "--recursive", "--depth=1"});
            !ok(r)) {
            throw fail("git submodule update failed", &r);
        }
    }

    fs::path from = work;
    if (!subdir.empty()) {
        // The subdir must be a real directory of the checkout: no "..", no symlinks on the way.
        fs::path cur = work;
        for (const auto& part : fs::path(subdir)) {
            std::string s = part.string();
            if (s.empty() || s == "." || s == "/")
                continue;
            if (s == "..")
                throw fail("invalid subdirectory \"" + subdir + "\"", nullptr);
            cur /= s;
            auto st = fs::symlink_status(cur, ec);
            if (ec || !fs::is_directory(st))
                throw fail("subdirectory \"" + subdir + "\" not found in the repository", nullptr);
        }
        from = cur;
        if (from == fs::path(work))
            subdir.clear();
    }
    if (subdir.empty() && !keep_git_dir)
        fs::remove_all(work + "/.git", ec);
    if (fs::is_directory(dir))
        fs::remove(dir, ec);
    if (::rename(from.c_str(), dir.c_str()) != 0)
        throw errno_error("ADD " + shown + ": cannot move the checkout to " + dir.string());
}

}  // namespace kiln::solver

namespace kiln::solver {

AddInputs prepare_add(const frontend::CopySpec& spec, const std::filesystem::path& work_dir,
                      const CancelFlag* cancel) {
    AddInputs in;
    content::Sha256 h;
    int n = 0;
    for (const auto& s : spec.sources) {
        const AddSourceKind kind = classify_add_source(s);
        if (kind == AddSourceKind::local) {
            in.context_sources.push_back(s);
            continue;
        }
        AddInputs::Fetched f;
        f.source = s;
        f.dir = work_dir / ("fetch-" + std::to_string(n++));
        std::filesystem::create_directories(f.dir);
        if (kind == AddSourceKind::git) {
            fetch_git(s, f.dir / "repo", spec.keep_git_dir, cancel);
            f.dir /= "repo";
            // The clone's content is what the step reads: hash it as COPY would.
            StatCache none(work_dir / "no-stat-cache.json");
            h.update(s + "\n" + BuildContext(f.dir, {}).sources_digest({"."}, none).str() + "\n");
        } else {
            f.file = url_filename(s);
            if (f.file.empty())
                f.file = "download";
            h.update(s + "\n" + fetch_url(s, f.dir / f.file, spec.checksum, cancel).str() + "\n");
        }
        in.fetched.push_back(f);
    }
    in.digest = h.finish();
    return in;
}

void run_add(const frontend::CopySpec& spec, const AddInputs& inputs, const BuildContext& context,
             const std::filesystem::path& rootfs, const std::filesystem::path& work_dir) {
    namespace fs = std::filesystem;
    auto part = [&](std::vector<std::string> sources, bool dest_is_dir, bool keep_owners) {
        frontend::CopySpec c = spec;
        c.sources = std::move(sources);
        c.heredocs.clear();
        c.dest_is_dir = dest_is_dir;
        c.keep_owners = keep_owners;
        return c;
    };
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (!spec.chown.empty()) {
        auto o = parse_chown(spec.chown, rootfs);
        owner = std::make_pair(o.uid, o.gid);
    }
    int n = 0;
    // Local archives are unpacked unless --unpack=false; other sources copy.
    std::vector<std::string> plain;
    for (const auto& s : inputs.context_sources) {
        bool unpacked = false;
        if (spec.unpack) {
            for (const auto& src : context.resolve(s)) {
                struct stat st;
                if (::stat(src.host_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                    is_archive(src.host_path)) {
                    fs::path x = work_dir / ("unpack-" + std::to_string(n++));
                    fs::create_directories(x);
                    extract_archive(src.host_path, x, owner);
                    run_copy(part({"."}, true, true), BuildContext(x, {}), rootfs);
                    unpacked = true;
                }
            }
        }
        if (!unpacked)
            plain.push_back(s);
    }
    if (!plain.empty() || !spec.heredocs.empty()) {
        frontend::CopySpec c = part(plain, spec.dest_is_dir, false);
        c.heredocs = spec.heredocs;
        run_copy(c, context, rootfs);
    }
    for (const auto& f : inputs.fetched) {
        BuildContext fetched(f.dir, {});
        if (f.file.empty()) {
            run_copy(part({"."}, true, false), fetched, rootfs);
        } else if (spec.unpack_set && spec.unpack && is_archive(f.dir / f.file)) {
            fs::path x = work_dir / ("unpack-" + std::to_string(n++));
            fs::create_directories(x);
            extract_archive(f.dir / f.file, x, owner);
            run_copy(part({"."}, true, true), BuildContext(x, {}), rootfs);
        } else {
            run_copy(part({f.file}, spec.dest_is_dir, false), fetched, rootfs);
        }
    }
}

}  // namespace kiln::solver
