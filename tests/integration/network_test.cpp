// RUN's network and entitlements (issue #11): a private network namespace with outbound
// access by default (slirp4netns), the build host's loopback out of reach, the host's
// network only with --allow network.host, --security=insecure only with --allow
// security.insecure; a base image whose /dev is a link to a host directory leaves it
// untouched; --max-layer-size and device nodes in -o type=local.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "bookworm_fixture.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

class Network : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        if (!have_tool("slirp4netns"))
            GTEST_SKIP() << "needs Debian's slirp4netns (tools/bootstrap.sh installs it)";
        root = dir / "root";
        auto r = build_busybox_base(root, dir / "base");
        ASSERT_EQ(r.exit_code, 0) << joined(r);
    }

    fs::path context(const std::string& name, const std::string& dockerfile) {
        fs::path ctx = dir / name;
        write(ctx / "Dockerfile", dockerfile);
        return ctx;
    }

    Result build(const fs::path& ctx, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"build", "--no-cache", "--progress", "plain"};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(ctx.string());
        return run_kiln(root, args);
    }

    // No network namespace or slirp4netns of a build is left mounted or running.
    void expect_no_network_left() {
        std::ifstream in("/proc/self/mountinfo");
        std::string line;
        while (std::getline(in, line))
            EXPECT_EQ(line.find(root.string()), std::string::npos) << "left mounted: " << line;
        EXPECT_NE(run({"pgrep", "-f", "slirp4netns.*" + root.string()}).exit_code, 0)
            << "slirp4netns still running";
    }

    Scratch dir;
    fs::path root;
};

// A connect to the host's 127.0.0.1:PORT, printing CONNECTED or REFUSED (spelled by the
// shell, so the command line that progress echoes holds neither word).
std::string connect_to(int port) {
    return "nc -w 3 127.0.0.1 " + std::to_string(port) +
           " </dev/null && echo CONN\"\"ECTED || echo REF\"\"USED\n";
}

std::string probe(int port) {
    return "RUN " + connect_to(port);
}

}  // namespace

TEST_F(Network, HostLoopbackIsUnreachableByDefault) {
    HttpServer server(dir.path(), dir / "port");
    auto r = build(context("app", "FROM base:1\n" + probe(server.port())));
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("REFUSED"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("CONNECTED"), std::string::npos) << r.err;
    expect_no_network_left();
}

TEST_F(Network, DefaultNetworkIsPrivateWithOutboundDns) {
    // The step has its own interfaces (slirp4netns's tap0) and the DNS forwarder.
    auto r = build(context("app",
                           "FROM base:1\n"
                           "RUN ip -o -4 addr show; cat /etc/resolv.conf\n"));
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("tap0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("10.0.2.100"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nameserver 10.0.2.3"), std::string::npos) << r.err;
    expect_no_network_left();
}

TEST_F(Network, HostNetworkWithTheEntitlementReachesLoopback) {
    HttpServer server(dir.path(), dir / "port");
    auto r = build(context("app", "FROM base:1\n" + probe(server.port())),
                   {"--network", "host", "--allow", "network.host"});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("CONNECTED"), std::string::npos) << r.err;

    auto s = build(context("app2", "FROM base:1\nRUN --network=host " + connect_to(server.port())),
                   {"--allow", "network.host"});
    ASSERT_EQ(s.exit_code, 0) << joined(s);
    EXPECT_NE(s.err.find("CONNECTED"), std::string::npos) << s.err;
}

TEST_F(Network, HostNetworkWithoutTheEntitlementIsRefusedBeforeAnythingRuns) {
    fs::path marker = dir / "ran";
    // --network host on the command line.
    auto r = build(context("app", "FROM base:1\nRUN echo STEP-RAN\n"), {"--network", "host"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--allow network.host"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("STEP-RAN"), std::string::npos) << r.err;

    // RUN --network=host in the Dockerfile: named by its line; the RUN before it did
    // not run either.
    auto s = build(context("app2", "FROM base:1\nRUN echo STEP-RAN\nRUN --network=host true\n"));
    EXPECT_NE(s.exit_code, 0);
    EXPECT_NE(s.err.find("Dockerfile:3: RUN --network=host is not allowed"), std::string::npos)
        << s.err;
    EXPECT_NE(s.err.find("--allow network.host"), std::string::npos) << s.err;
    EXPECT_EQ(s.err.find("STEP-RAN"), std::string::npos) << s.err;

    auto t = build(context("app3", "FROM base:1\nRUN --security=insecure true\n"));
    EXPECT_NE(t.exit_code, 0);
    EXPECT_NE(t.err.find("Dockerfile:2: RUN --security=insecure is not allowed"), std::string::npos)
        << t.err;
    EXPECT_NE(t.err.find("--allow security.insecure"), std::string::npos) << t.err;

    auto u = build(context("app4", "FROM base:1\n"), {"--allow", "network.everything"});
    EXPECT_NE(u.exit_code, 0);
    EXPECT_NE(u.err.find("invalid --allow value"), std::string::npos) << u.err;
}

TEST_F(Network, NoneStaysWithoutInterfaces) {
    auto r = build(context("app", "FROM base:1\nRUN --network=none ip -o link show\n"));
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_EQ(r.err.find("tap0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("lo:"), std::string::npos) << r.err;
}

// A base whose /dev is a link to a host directory: the runtime's /dev entries
// (fd, stdin, ptmx, ...) must land in the root, never in the host directory.
TEST_F(Network, SymlinkedDevLeavesTheHostUntouched) {
    fs::path victim = dir / "victim";
    fs::create_directories(victim);
    fs::path ctx = context("app",
                           "FROM base:1\nCOPY links/ /\n"
                           "RUN ls /dev >/dev/null && echo hi > /dev/null\n"
                           "RUN ls -l / | grep dev\n");
    fs::create_directories(ctx / "links");
    fs::create_symlink(victim, ctx / "links/dev");
    auto out = dir / "out";
    auto r = build(ctx, {"-o", "type=local,dest=" + out.string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_TRUE(fs::is_empty(victim)) << "the runtime wrote into the host directory";
    // The image keeps its link: the step's replacement was for the run only.
    EXPECT_TRUE(fs::is_symlink(out / "dev"));
    EXPECT_EQ(fs::read_symlink(out / "dev"), victim);
}

TEST_F(Network, LocalOutputRefusesDeviceNodes) {
    fs::path ctx = context("app", "FROM scratch\nADD dev.tar /\n");
    // A tar with a character device (1,3), as a hostile or odd base layer would have.
    ASSERT_EQ(run({"python3", "-c",
                   "import tarfile,sys\n"
                   "t=tarfile.open(sys.argv[1],'w')\n"
                   "i=tarfile.TarInfo('null'); i.type=tarfile.CHRTYPE; i.devmajor=1; "
                   "i.devminor=3; i.mode=0o666\n"
                   "t.addfile(i); t.close()\n",
                   (ctx / "dev.tar").string()})
                  .exit_code,
              0);
    auto out = dir / "out";
    auto r = build(ctx, {"-o", "type=local,dest=" + out.string()});
    EXPECT_NE(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("device node"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out / "null"));
}

TEST_F(Network, MaxLayerSizeStopsALoadThatIsTooLarge) {
    // A 2 MiB layer: an OCI tar written by kiln, loaded back with a 1 MiB limit.
    fs::path ctx = context("big", "FROM scratch\nCOPY big /big\n");
    write_random(ctx / "big", 2 << 20, 7);
    auto tar = dir / "big.tar";
    auto r = build(ctx, {"-o", "type=oci,dest=" + tar.string()});
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    Scratch other;
    auto l = run_kiln(other / "root",
                      {"--max-layer-size", "1M", "load", "-i", tar.string(), "-t", "big:1"});
    EXPECT_NE(l.exit_code, 0) << joined(l);
    EXPECT_NE(l.err.find("--max-layer-size"), std::string::npos) << l.err;
    auto images = run_kiln(other / "root", {"images"});
    EXPECT_EQ(images.out.find("big:1"), std::string::npos) << images.out;
    // The same with room enough works.
    auto ok = run_kiln(other / "root",
                       {"--max-layer-size", "64M", "load", "-i", tar.string(), "-t", "big:1"});
    EXPECT_EQ(ok.exit_code, 0) << joined(ok);
}

// Outbound access like Docker's bridge: apt-get update on a real Debian base, in the
// default (private) network, where the build machine reaches Debian's mirror.
TEST_F(Network, AptGetUpdateWorksInThePrivateNetwork) {
    const auto& base = bookworm_base();
    if (!base.skip_reason.empty())
        GTEST_SKIP() << base.skip_reason;
    ASSERT_TRUE(base.error.empty()) << base.error;
    auto l = run_kiln(root, {"load", "-i", base.archive.string()});
    ASSERT_EQ(l.exit_code, 0) << joined(l);
    // The mirror apt is configured with on this machine (the only one it may reach).
    std::string sources = slurp("/etc/apt/sources.list.d/debian.sources");
    std::string uri;
    if (auto at = sources.find("URIs:"); at != std::string::npos) {
        auto end = sources.find('\n', at);
        uri = sources.substr(at + 5, end - at - 5);
        uri.erase(0, uri.find_first_not_of(' '));
    }
    if (uri.empty())
        GTEST_SKIP() << "no Debian mirror in /etc/apt/sources.list.d/debian.sources";
    auto r = build(context("apt",
                           "FROM bookworm:test\n"
                           "RUN echo 'deb " +
                               uri +
                               " bookworm main' > /etc/apt/sources.list && "
                               "rm -f /etc/apt/sources.list.d/* && apt-get update\n"));
    ASSERT_EQ(r.exit_code, 0) << joined(r);
    EXPECT_NE(r.err.find("Reading package lists"), std::string::npos) << r.err;
    expect_no_network_left();
}
