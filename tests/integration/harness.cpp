#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace kiln::test {

namespace fs = std::filesystem;

Result run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string s = *e;
        if (!env.count(s.substr(0, s.find('='))))
            envs.push_back(s);
    }
    for (const auto& [k, v] : env)
        envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv)
        cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs)
        cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(err_pipe[1]);
    Result r;
    if (rc != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        r.err = std::string("cannot run ") + argv[0] + ": " + strerror(rc);
        return r;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0)
            break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

Result run_kiln(const fs::path& root, const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env) {
    std::vector<std::string> argv = {KILN_BINARY, "--root", root.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env);
}

void write(const fs::path& path, const std::string& content, int mode) {
    fs::create_directories(path.parent_path());
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    f.close();
    chmod(path.c_str(), static_cast<mode_t>(mode));
}

std::string slurp(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool have_tool(const std::string& name) {
    for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}) {
        if (access((fs::path(dir) / name).c_str(), X_OK) == 0)
            return true;
    }
    return false;
}

nlohmann::json json_of(const Result& r) {
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        throw std::runtime_error("not JSON (" + std::string(e.what()) + "): " + r.out + r.err);
    }
}

Scratch::Scratch() {
    char tmpl[] = "/tmp/kiln-it-XXXXXX";
    if (!mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

Scratch::~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

HttpServer::HttpServer(const fs::path& dir, const fs::path& port_file) {
    const char* script =
        "import functools, http.server, os, sys\n"
        "h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n"
        "http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)\n"
        "open(sys.argv[2] + '.tmp', 'w').write(str(s.server_address[1]))\n"
        "os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
        "s.serve_forever()\n";
    pid_ = ::fork();
    if (pid_ == 0) {
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execlp("python3", "python3", "-c", script, dir.c_str(), port_file.c_str(),
                 static_cast<char*>(nullptr));
        ::_exit(127);
    }
    for (int i = 0; i < 400 && !fs::exists(port_file); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (fs::exists(port_file))
        port_ = std::stoi(slurp(port_file));
}

HttpServer::~HttpServer() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }
}

fs::path busybox_path() {
    return "/bin/busybox";
}

std::string run_skip_reason() {
    if (::geteuid() != 0)
        return "needs root (as in CI)";
    if (!have_tool("runc"))
        return "needs runc";
    if (!fs::exists(busybox_path()) ||
        run({"file", "-L", busybox_path().string()}).out.find("statically") == std::string::npos)
        return "needs a static busybox (Debian's busybox-static)";
    return "";
}

Result build_busybox_base(const fs::path& root, const fs::path& context_dir, const std::string& tag,
                          const std::string& extra, const std::map<std::string, std::string>& files,
                          const std::vector<std::string>& args) {
    fs::create_directories(context_dir);
    fs::copy_file(busybox_path(), context_dir / "busybox", fs::copy_options::overwrite_existing);
    for (const auto& [name, content] : files)
        write(context_dir / name, content);
    write(context_dir / "Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\n"
          "RUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n" +
              extra);
    std::vector<std::string> argv = {"build", "-t", tag};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(context_dir.string());
    return run_kiln(root, argv);
}

std::string joined(const Result& r) {
    return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

void write_random(const fs::path& path, std::size_t size, unsigned seed) {
    fs::create_directories(path.parent_path());
    std::ofstream f(path, std::ios::binary);
    std::mt19937_64 rng(seed);
    std::vector<std::uint64_t> buf(1 << 13);
    for (std::size_t done = 0; done < size; done += buf.size() * 8) {
        for (auto& x : buf)
            x = rng();
        f.write(reinterpret_cast<const char*>(buf.data()),
                static_cast<std::streamsize>(std::min(size - done, buf.size() * 8)));
    }
}

std::vector<std::string> blobs_not_their_names(const std::filesystem::path& layout) {
    std::vector<std::string> bad;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(layout / "blobs/sha256", ec)) {
        auto sum = run({"sha256sum", e.path().string()});
        if (sum.exit_code != 0 || sum.out.substr(0, 64) != e.path().filename().string())
            bad.push_back(e.path().filename().string());
    }
    return bad;
}

std::string pushed_digest(const std::string& text) {
    auto at = text.rfind("@sha256:");
    return at == std::string::npos ? "" : text.substr(at + 1, 71);
}

Result make_git_repo(const fs::path& work, const fs::path& bare) {
    const std::string w = work.string(), b = bare.string();
    return run({"sh", "-c",
                "set -e; git init -q -b main " + w + "; git -C " + w + " add -A; git -C " + w +
                    " -c user.name=t -c user.email=t@e commit -q -m one; git clone -q --bare " + w +
                    " " + b + "; git -C " + b + " update-server-info"});
}

}  // namespace kiln::test
