// sandbox/ on the real runtime: a busybox rootfs made from the host's static busybox,
// run through runc. Needs root and runc (as in CI); skipped otherwise.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"

namespace fs = std::filesystem;
using namespace kiln::sandbox;

namespace {

const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct ShellResult {
    int status = -1;
    std::string out;
};

ShellResult shell(const std::string& cmd) {
    ShellResult r;
    FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!f) {
        return r;
    }
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        r.out.append(buf.data(), n);
    }
    r.status = ::pclose(f);
    return r;
}

std::string find_busybox() {
    for (const char* p : {"/bin/busybox", "/usr/bin/busybox"}) {
        if (fs::exists(p)) {
            return p;
        }
    }
    return {};
}

std::string unique_token(const std::string& prefix) {
    std::random_device rd;
    std::ostringstream s;
    s << prefix << "-" << ::getpid() << "-" << std::hex << rd() << rd();
    return s.str();
}

struct Captured {
    RunResult result;
    std::vector<std::string> lines;
};

class SandboxTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "needs root";
        }
        if (shell("runc --version").status != 0) {
            GTEST_SKIP() << "needs runc";
        }
        busybox_ = find_busybox();
        if (busybox_.empty() ||
            shell("file -L " + busybox_).out.find("statically") == std::string::npos) {
            GTEST_SKIP() << "needs a static busybox (Debian's busybox-static)";
        }
        std::string tmpl = (fs::temp_directory_path() / "kiln-sandbox-it-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        tmp_ = tmpl;
        rootfs_ = tmp_ / "rootfs";
        work_ = tmp_ / "work";
        make_rootfs();
    }

    void TearDown() override {
        if (!tmp_.empty()) {
            std::error_code ec;
            fs::remove_all(tmp_, ec);
        }
    }

    // bin/busybox and one symlink per applet where busybox itself says it belongs,
    // plus a small passwd and group.
    void make_rootfs() {
        fs::create_directories(rootfs_ / "bin");
        fs::copy_file(busybox_, rootfs_ / "bin/busybox");
        ShellResult list = shell(busybox_ + " --list-full");
        ASSERT_EQ(list.status, 0);
        std::istringstream in(list.out);
        std::string rel;
        while (std::getline(in, rel)) {
            if (rel.empty() || rel == "bin/busybox") {
                continue;
            }
            fs::path link = rootfs_ / rel;
            fs::create_directories(link.parent_path());
            std::error_code ec;
            fs::create_symlink("/bin/busybox", link, ec);
        }
        fs::create_directories(rootfs_ / "etc");
        std::ofstream(rootfs_ / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                                 "alice:x:1000:1000::/home/alice:/bin/sh\n";
        std::ofstream(rootfs_ / "etc/group") << "root:x:0:\n"
                                                "wheel:x:10:alice\n"
                                                "alice:x:1000:\n"
                                                "devs:x:2000:alice\n";
        fs::create_directories(rootfs_ / "tmp");
        fs::permissions(rootfs_ / "tmp", fs::perms::all | fs::perms::sticky_bit);
    }

    RunOptions options(std::vector<std::string> args) {
        RunOptions o;
        o.rootfs = rootfs_;
        o.args = std::move(args);
        o.env = {kPath};
        o.work_dir = work_;
        return o;
    }

    Captured run_capture(RunOptions o) {
        Captured c;
        o.on_output = [&c](std::string_view line) { c.lines.emplace_back(line); };
        c.result = run(o);
        return c;
    }

    Captured sh(const std::string& script) {
        return run_capture(options({"/bin/sh", "-c", script}));
    }

    std::string containers_left() {
        return shell("runc --root '" + (work_ / "runtime-state").string() + "' list -q").out;
    }

    std::string busybox_;
    fs::path tmp_, rootfs_, work_;
};

TEST_F(SandboxTest, ExecFormAndShellFormStreamLinesInOrder) {
    Captured c = run_capture(options({"/bin/echo", "hello", "world"}));
    EXPECT_EQ(c.result.exit_code, 0);
    EXPECT_FALSE(c.result.cancelled);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"hello world"}));

    c = sh("for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i; done; printf 'no newline'");
    EXPECT_EQ(c.result.exit_code, 0);
    ASSERT_EQ(c.lines.size(), 11u);
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(c.lines[i], "line" + std::to_string(i + 1));
    }
    EXPECT_EQ(c.lines[10], "no newline");

    // stderr comes too, in its own order (runc copies stdout and stderr separately, so
    // how the two interleave is not fixed: as with Docker).
    c = sh("echo out1; echo err1 >&2; echo out2; echo err2 >&2");
    EXPECT_EQ(c.result.exit_code, 0);
    std::vector<std::string> out, err;
    for (const auto& l : c.lines) {
        (l.rfind("out", 0) == 0 ? out : err).push_back(l);
    }
    EXPECT_EQ(out, (std::vector<std::string>{"out1", "out2"}));
    EXPECT_EQ(err, (std::vector<std::string>{"err1", "err2"}));
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, ExitCodeIsPropagatedNotThrown) {
    Captured c = sh("echo before; exit 3");
    EXPECT_EQ(c.result.exit_code, 3);
    EXPECT_FALSE(c.result.cancelled);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"before"}));
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, EnvAndCwdCreatedWhenMissing) {
    RunOptions o = options({"/bin/sh", "-c", "pwd; echo \"$FOO\""});
    o.env.push_back("FOO=bar baz");
    o.cwd = "/work/deep/dir";
    Captured c = run_capture(o);
    EXPECT_EQ(c.result.exit_code, 0);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"/work/deep/dir", "bar baz"}));
    EXPECT_TRUE(fs::is_directory(rootfs_ / "work/deep/dir"));  // the cwd stays, as BuildKit's
}

TEST_F(SandboxTest, UserByNameWithSupplementaryGroupsAndByGroup) {
    RunOptions o = options({"id"});  // found through the container's PATH
    o.user = resolve_user(rootfs_, "alice");
    Captured c = run_capture(o);
    ASSERT_EQ(c.result.exit_code, 0);
    ASSERT_EQ(c.lines.size(), 1u);
    const std::string& id = c.lines[0];
    EXPECT_NE(id.find("uid=1000(alice)"), std::string::npos) << id;
    EXPECT_NE(id.find("gid=1000(alice)"), std::string::npos) << id;
    EXPECT_NE(id.find("10(wheel)"), std::string::npos) << id;
    EXPECT_NE(id.find("2000(devs)"), std::string::npos) << id;

    o.user = resolve_user(rootfs_, "alice:devs");
    c = run_capture(o);
    ASSERT_EQ(c.lines.size(), 1u);
    EXPECT_NE(c.lines[0].find("uid=1000(alice) gid=2000(devs)"), std::string::npos) << c.lines[0];
    EXPECT_EQ(c.lines[0].find("wheel"), std::string::npos) << c.lines[0];

    EXPECT_THROW(resolve_user(rootfs_, "mallory"), SandboxError);
}

std::set<std::string> interfaces(const std::vector<std::string>& proc_net_dev) {
    std::set<std::string> out;
    for (const auto& l : proc_net_dev) {
        auto colon = l.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        std::string name = l.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        out.insert(name);
    }
    return out;
}

TEST_F(SandboxTest, NetworkNoneHasOnlyLoopbackHostNetworkIsTheHosts) {
    RunOptions o = options({"/bin/cat", "/proc/net/dev"});
    o.network = RunOptions::Network::none;
    Captured c = run_capture(o);
    ASSERT_EQ(c.result.exit_code, 0);
    EXPECT_EQ(interfaces(c.lines), (std::set<std::string>{"lo"}));

    std::vector<std::string> host_lines;
    std::ifstream in("/proc/net/dev");
    for (std::string l; std::getline(in, l);) {
        host_lines.push_back(l);
    }
    o.network = RunOptions::Network::host;
    c = run_capture(o);
    ASSERT_EQ(c.result.exit_code, 0);
    EXPECT_EQ(interfaces(c.lines), interfaces(host_lines));
}

TEST_F(SandboxTest, HostnameAndGeneratedEtcFiles) {
    Captured c = sh("hostname; cat /etc/hostname; cat /etc/hosts");
    ASSERT_EQ(c.result.exit_code, 0);
    ASSERT_GE(c.lines.size(), 3u);
    EXPECT_EQ(c.lines[0], "buildkitsandbox");
    EXPECT_EQ(c.lines[1], "buildkitsandbox");
    EXPECT_EQ(c.lines[2], "127.0.0.1\tlocalhost buildkitsandbox");

    RunOptions o = options({"/bin/sh", "-c", "hostname; grep -c nameserver /etc/resolv.conf"});
    o.hostname = "kilnbox";
    c = run_capture(o);
    ASSERT_EQ(c.lines.size(), 2u);
    EXPECT_EQ(c.lines[0], "kilnbox");
    EXPECT_NE(c.lines[1], "0");

    // The generated files are read-only inside.
    c = sh("echo x >> /etc/hosts");
    EXPECT_NE(c.result.exit_code, 0);
}

TEST_F(SandboxTest, OwnPidNamespaceCommandIsPid1) {
    // Globbing is done by the shell itself: no other process of ours shows up.
    Captured c = sh("echo $$; for p in /proc/[0-9]*; do echo ${p#/proc/}; done");
    ASSERT_EQ(c.result.exit_code, 0);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"1", "1"}));

    c = sh("ps -o pid,args; echo end");
    ASSERT_EQ(c.result.exit_code, 0);
    // Header, pid 1 (sh) and ps itself.
    ASSERT_EQ(c.lines.size(), 4u);
    EXPECT_NE(c.lines[1].find("1 /bin/sh -c ps"), std::string::npos) << c.lines[1];
}

TEST_F(SandboxTest, CannotSeeHostFilesOrProcesses) {
    const std::string secret = unique_token("kiln-secret");
    fs::path planted = tmp_ / "planted-outside-rootfs";
    std::ofstream(planted) << secret << "\n";
    const std::string self = std::to_string(::getpid());
    Captured c = sh("cat '" + planted.string() + "'; cat ../../../../../../.." + planted.string() +
                    "; cat /proc/1/root" + planted.string() + "; ls /proc/" + self +
                    "; cat /proc/" + self + "/cmdline; echo done");
    EXPECT_EQ(c.result.exit_code, 0);
    for (const auto& l : c.lines) {
        EXPECT_EQ(l.find(secret), std::string::npos) << l;
        EXPECT_EQ(l.find("kiln_integration_tests"), std::string::npos) << l;
    }
    // stdout and stderr interleave freely, so "done" need not be last.
    EXPECT_NE(std::find(c.lines.begin(), c.lines.end(), "done"), c.lines.end());

    // Nothing it does lands outside the rootfs.
    c = sh("echo pwned > ../../../../../../.." + (tmp_ / "escaped").string() + " 2>/dev/null; " +
           "mkdir -p /x && echo ok");
    EXPECT_FALSE(fs::exists(tmp_ / "escaped"));
}

TEST_F(SandboxTest, CancelKillsTheContainerAndLeavesNothing) {
    const std::string marker = unique_token("kilncancelmarker");
    RunOptions o = options({"/bin/sh", "-c", "echo started; sleep 100; echo " + marker});
    std::atomic<bool> cancel{false};
    std::atomic<bool> started{false};
    o.cancel = &cancel;
    o.on_output = [&](std::string_view line) {
        if (line == "started") {
            started = true;
        }
    };
    RunResult result;
    std::thread t([&] { result = run(o); });
    auto t0 = std::chrono::steady_clock::now();
    while (!started && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(started.load());
    // Still running: the marker process exists.
    EXPECT_EQ(shell("pgrep -f '[" + marker.substr(0, 1) + "]" + marker.substr(1) + "'").status, 0);
    auto t1 = std::chrono::steady_clock::now();
    cancel = true;
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(20));
    EXPECT_TRUE(result.cancelled);
    EXPECT_EQ(result.exit_code, 128 + 9);
    EXPECT_NE(shell("pgrep -f '[" + marker.substr(0, 1) + "]" + marker.substr(1) + "'").status, 0)
        << "a process of the cancelled container is still running";
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, CancelBeforeStartStillReturns) {
    RunOptions o = options({"/bin/sleep", "100"});
    std::atomic<bool> cancel{true};
    o.cancel = &cancel;
    auto t0 = std::chrono::steady_clock::now();
    RunResult r = run(o);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, RuntimeFailuresAreErrorsNamingTheRuntime) {
    RunOptions o = options({"/bin/true"});
    o.runtime = "kiln-no-such-runtime";
    try {
        run(o);
        FAIL() << "expected SandboxError";
    } catch (const SandboxError& e) {
        EXPECT_NE(std::string(e.what()).find("kiln-no-such-runtime"), std::string::npos)
            << e.what();
    }

    // Scratch inside the rootfs would be visible to the step and land in its layer.
    o = options({"/bin/true"});
    o.work_dir = rootfs_ / "kiln-work";
    EXPECT_THROW(run(o), SandboxError);
    EXPECT_FALSE(fs::exists(rootfs_ / "kiln-work"));

    // A program that is not there: the runtime cannot start the process.
    o = options({"/no/such/program"});
    try {
        run(o);
        FAIL() << "expected SandboxError";
    } catch (const SandboxError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("runc"), std::string::npos) << msg;
        EXPECT_NE(msg.find("/no/such/program"), std::string::npos) << msg;
    }
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, CrunThatCannotStartIsAClearError) {
    if (shell("crun --version").status != 0) {
        GTEST_SKIP() << "crun not installed";
    }
    RunOptions o = options({"/bin/echo", "hi"});
    o.runtime = "crun";
    bool hybrid = fs::exists("/sys/fs/cgroup/unified") && fs::exists("/sys/fs/cgroup/memory");
    if (!hybrid) {
        Captured c = run_capture(o);  // where crun works, it just works
        EXPECT_EQ(c.lines, (std::vector<std::string>{"hi"}));
        return;
    }
    try {
        run(o);
        FAIL() << "expected SandboxError from crun on hybrid cgroups";
    } catch (const SandboxError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("crun"), std::string::npos) << msg;
        EXPECT_NE(msg.find("hybrid"), std::string::npos) << msg;
    }
    EXPECT_EQ(shell("crun --root '" + (work_ / "runtime-state").string() + "' list -q").out, "");
}

TEST_F(SandboxTest, ExceptionFromOutputCallbackLeavesNothingRunning) {
    const std::string marker = unique_token("kilnthrowmarker");
    RunOptions o = options({"/bin/sh", "-c", "echo first; sleep 100; echo " + marker});
    o.on_output = [](std::string_view) { throw std::runtime_error("printer failed"); };
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(run(o), std::runtime_error);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    EXPECT_NE(shell("pgrep -f '[" + marker.substr(0, 1) + "]" + marker.substr(1) + "'").status, 0);
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, ExceptionWhileOutputFloodsLeavesNothingRunning) {
    // The pipe fills up while run() unwinds: the cleanup must still finish.
    const std::string marker = unique_token("kilnfloodmarker");
    RunOptions o = options({"/bin/sh", "-c", "echo x; yes " + marker});
    o.on_output = [](std::string_view) { throw std::runtime_error("printer failed"); };
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(run(o), std::runtime_error);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
    EXPECT_NE(shell("pgrep -f '[" + marker.substr(0, 1) + "]" + marker.substr(1) + "'").status, 0);
    EXPECT_EQ(containers_left(), "");
}

TEST_F(SandboxTest, ReadOnlyBindAndTmpfsMounts) {
    fs::path data = tmp_ / "data";
    fs::create_directories(data);
    std::ofstream(data / "file") << "from the host\n";
    RunOptions o = options({"/bin/sh", "-c",
                            "cat /data/file; touch /data/new 2>/dev/null && echo wrote; "
                            "echo tmp > /scratch/f && cat /scratch/f; "
                            "grep -c ' /scratch tmpfs' /proc/mounts"});
    o.mounts.push_back({"/data", "bind", data.string(), {"rbind", "ro"}});
    o.mounts.push_back({"/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "size=1m"}});
    Captured c = run_capture(o);
    EXPECT_EQ(c.result.exit_code, 0);
    EXPECT_EQ(c.lines, (std::vector<std::string>{"from the host", "tmp", "1"}));
    EXPECT_FALSE(fs::exists(data / "new"));
    // Mount points the runtime had to create are gone again; nothing landed in rootfs.
    EXPECT_FALSE(fs::exists(rootfs_ / "data"));
    EXPECT_FALSE(fs::exists(rootfs_ / "scratch"));
}

TEST_F(SandboxTest, MountStubsDoNotStayInTheRootfs) {
    Captured c = sh("echo hi > /tmp/kept");
    EXPECT_EQ(c.result.exit_code, 0);
    for (const char* p : {"proc", "dev", "sys", "etc/hosts", "etc/resolv.conf", "etc/hostname"}) {
        EXPECT_FALSE(fs::exists(rootfs_ / p)) << p;
    }
    EXPECT_TRUE(fs::exists(rootfs_ / "tmp/kept"));
    EXPECT_TRUE(fs::exists(rootfs_ / "etc/passwd"));
}

TEST_F(SandboxTest, ParallelRunsDoNotInterfere) {
    // Each run on its own rootfs, as each RUN has its own snapshot.
    std::vector<std::thread> threads;
    std::vector<Captured> results(3);
    std::vector<std::string> errors(3);
    for (int i = 0; i < 3; ++i) {
        fs::path root = tmp_ / ("rootfs" + std::to_string(i));
        fs::copy(rootfs_, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        threads.emplace_back([&, i, root] {
            RunOptions o = options({"/bin/sh", "-c", "echo run" + std::to_string(i)});
            o.rootfs = root;
            o.work_dir = work_ / std::to_string(i);
            o.on_output = [&, i](std::string_view l) { results[i].lines.emplace_back(l); };
            try {
                results[i].result = run(o);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(errors[i], "");
        EXPECT_EQ(results[i].result.exit_code, 0);
        EXPECT_EQ(results[i].lines, (std::vector<std::string>{"run" + std::to_string(i)}));
    }
}

}  // namespace
