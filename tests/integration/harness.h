// What the integration tests share: running commands (kiln and the
// independent tools that check it), temp dirs, small files.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::test {

struct Result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs argv (no shell) with extra environment variables; captures output.
Result run(const std::vector<std::string>& argv,
           const std::map<std::string, std::string>& env = {});

// kiln with --root ROOT prepended.
Result run_kiln(const std::filesystem::path& root, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env = {});

void write(const std::filesystem::path& path, const std::string& content, int mode = 0644);
std::string slurp(const std::filesystem::path& path);
bool have_tool(const std::string& name);
nlohmann::json json_of(const Result& r);
// "exit N / stdout / stderr", for assertion messages.
std::string joined(const Result& r);
// `size` incompressible bytes from a seeded generator (a layer that stays
// about that size after gzip).
void write_random(const std::filesystem::path& path, std::size_t size, unsigned seed);
// The blobs under `layout`/blobs/sha256 whose content does not hash to their
// name (by sha256sum, not kiln's code); empty when every blob is its name.
std::vector<std::string> blobs_not_their_names(const std::filesystem::path& layout);
// The last "@sha256:…" digest in kiln's output (what push reports), or "".
std::string pushed_digest(const std::string& text);

// python3's http.server on 127.0.0.1 (a free port) serving `dir`, quiet, stopped at
// scope exit. `port_file` is scratch for it to report the port in; port() is 0 when it
// did not come up within 10 s.
class HttpServer {
  public:
    HttpServer(const std::filesystem::path& dir, const std::filesystem::path& port_file);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    int port() const { return port_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
    }

  private:
    int pid_ = -1;
    int port_ = 0;
};

// `work` (its files already written) made a git repository on branch main with one
// commit of everything, and cloned bare to `bare`, ready for git's dumb HTTP protocol
// (update-server-info) and for git daemon.
Result make_git_repo(const std::filesystem::path& work, const std::filesystem::path& bare);

// A fresh directory under /tmp removed at scope exit.
class Scratch {
  public:
    Scratch();
    ~Scratch();
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& s) const { return path_ / s; }

  private:
    std::filesystem::path path_;
};

// A build context holding a static busybox (Debian's busybox-static), or
// skips the test when busybox-static is not installed.
std::filesystem::path busybox_path();

// Why tests that RUN steps cannot run here ("" when they can): not root, no runc, no
// static busybox.
std::string run_skip_reason();

// Builds `tag` in the store at `root`: FROM scratch, a static busybox installed as
// /bin/*, then `extra` Dockerfile lines (`files` go into the context beside it, under
// `context_dir`). `args` come before the context (e.g. --snapshotter native).
Result build_busybox_base(const std::filesystem::path& root,
                          const std::filesystem::path& context_dir,
                          const std::string& tag = "base:1", const std::string& extra = "",
                          const std::map<std::string, std::string>& files = {},
                          const std::vector<std::string>& args = {});

}  // namespace kiln::test
