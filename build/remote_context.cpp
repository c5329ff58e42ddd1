#include "build/remote_context.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "base/add_source.h"
#include "solver/add_op.h"

namespace kiln::build {

namespace fs = std::filesystem;

bool is_remote_context(const std::string& spec) {
    if (spec == "-")
        return true;
    // A directory whose name reads as scp-like git ("team:app") is still a directory.
    std::error_code ec;
    return classify_add_source(spec) != AddSourceKind::local && !fs::is_directory(spec, ec);
}

namespace {

// What was fetched into `file`: unpacked into the context, or kept as the Dockerfile.
void take_download(RemoteContext& out, const fs::path& file) {
    fs::create_directory(out.context());
    if (solver::is_archive(file)) {
        solver::extract_archive(file, out.context(), std::nullopt);
        return;
    }
    std::ifstream in(file, std::ios::binary);
    out.dockerfile = std::string(std::istreambuf_iterator<char>(in), {});
}

// A git context at the commit its ref names: the checkout kept from an
// earlier build, else a clone of that commit kept for the next one.
void fetch_git_context(const std::string& spec, RemoteContext& out, const content::StateRoot& root,
                       VertexScope& v, const CancelFlag* cancel) {
    const auto commit = solver::resolve_git_commit(spec, cancel);
    if (!commit) {  // the remote cannot say: fetched as asked, kept for this build only
        solver::fetch_git(spec, out.context(), false, cancel);
        return;
    }
    const auto git = solver::parse_git_url(spec);
    const fs::path cached =
        root.cache() / "git" /
        std::string(content::Digest::of(git.remote + "#" + *commit + ":" + git.subdir).hex());
    std::error_code ec;
    if (fs::is_directory(cached, ec)) {
        ::utimensat(AT_FDCWD, cached.c_str(), nullptr, 0);  // used now (gc)
        v.log("commit " + *commit + ": checked out before");
        out.cached = cached;
        return;
    }
    // By the commit, not the ref: a branch that moves meanwhile cannot put another
    // commit's files under this one's name.
    solver::fetch_git(git.remote + "#" + *commit + (git.subdir.empty() ? "" : ":" + git.subdir),
                      out.context(), false, cancel);
    fs::create_directories(cached.parent_path());
    // A concurrent build of the same commit may have kept its checkout first: either is it.
    if (::rename(out.context().c_str(), cached.c_str()) != 0 && errno != EEXIST &&
        errno != ENOTEMPTY)
        throw errno_error("cannot keep the checkout of " + solver::redact_url(spec) + " in " +
                          cached.string());
    v.log("commit " + *commit + ": fetched");
    out.cached = cached;
}

}  // namespace

RemoteContext fetch_context(const std::string& spec, std::istream* stdin_stream,
                            const content::StateRoot& root, Progress& progress,
                            const CancelFlag* cancel) {
    RemoteContext out{TempDir(root.tmp(), "context-"), std::nullopt, std::nullopt};
    const fs::path download = out.dir.path() / "download";
    if (spec == "-") {
        if (!stdin_stream)
            throw Error("a build context from stdin (-) needs standard input");
        VertexScope v(progress, "[internal] load build context from stdin");
        {
            std::ofstream file(download, std::ios::binary);
            file << stdin_stream->rdbuf();
            if (!file)
                throw Error("cannot read the build context from stdin");
        }
        v.log("transferring context: " + std::to_string(fs::file_size(download)) + "B done");
        take_download(out, download);
        v.done();
        return out;
    }
    if (is_git_source(spec)) {
        VertexScope v(progress, "[internal] load git source " + solver::redact_url(spec));
        fetch_git_context(spec, out, root, v, cancel);
        v.done();
        return out;
    }
    VertexScope v(progress, "[internal] load remote build context " + solver::redact_url(spec));
    solver::fetch_url(spec, download, "", cancel);
    v.log("transferring context: " + std::to_string(fs::file_size(download)) + "B done");
    take_download(out, download);
    v.done();
    return out;
}

}  // namespace kiln::build
