#include "build/remote_context.h"

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

}  // namespace

RemoteContext fetch_context(const std::string& spec, std::istream* stdin_stream,
                            const fs::path& tmp, Progress& progress, const CancelFlag* cancel) {
    RemoteContext out{TempDir(tmp, "context-"), std::nullopt};
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
        VertexScope v(progress, "[internal] load git source " + spec);
        solver::fetch_git(spec, out.context(), false, cancel);
        v.done();
        return out;
    }
    VertexScope v(progress, "[internal] load remote build context " + spec);
    solver::fetch_url(spec, download, "", cancel);
    v.log("transferring context: " + std::to_string(fs::file_size(download)) + "B done");
    take_download(out, download);
    v.done();
    return out;
}

}  // namespace kiln::build
