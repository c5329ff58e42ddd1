// kiln pull and kiln push of a 60 MB image, killed (SIGKILL) or interrupted
// (SIGINT) part way, against a real registry. Wherever the signal lands, the
// store keeps only whole blobs named by their digest and names only whole
// images; the registry's tag never points at an incomplete image; and the next
// pull or push completes with the right digest (checked with skopeo).
// The Ctrl-C tests and the pushes go through a fault proxy that paces every
// connection (kThrottle), so the transfer lasts seconds and the signal always
// lands in the middle of it: they fail when it does not.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "harness.h"
#include "registry_fixture.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Per connection, both ways: the 60 MB image takes about 4 s to pull or push.
constexpr long kThrottle = 8L << 20;
// When the Ctrl-C tests send SIGINT: blobs are then flowing.
constexpr int kSignalAfterMs = 700;

FaultOptions throttled() {
    FaultOptions o;
    o.throttle_bytes_per_second = kThrottle;
    return o;
}

std::string last_line(std::string s) {
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    return s.substr(s.rfind('\n') + 1);
}

std::string describe(int status) {
    if (WIFEXITED(status))
        return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("killed by ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// What became of a kiln process sent a signal part way.
struct Outcome {
    bool finished_first = false;  // it had exited before the signal was sent
    int status = -1;              // waitpid status
    std::chrono::milliseconds exit_after_signal{0};
    std::string log;  // its stdout and stderr
    std::string str() const {
        return describe(status) + (finished_first ? " (before the signal)" : "") + ", " +
               std::to_string(exit_after_signal.count()) + " ms after the signal; output:\n" + log;
    }
};

// Runs kiln --root ROOT ARGS…, sends `sig` after `delay_ms`, waits up to
// `wait_ms` for it to exit (then kills it: a hang shows as exit_after_signal).
Outcome interrupt_kiln(const fs::path& root, const std::vector<std::string>& args, int sig,
                       int delay_ms, const fs::path& log, int wait_ms = 10000) {
    std::vector<std::string> argv{KILN_BINARY, "--root", root.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Outcome o;
    {
        ChildProcess child(argv, log);
        const auto start = Clock::now();
        while (Clock::now() - start < std::chrono::milliseconds(delay_ms) && child.running())
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        o.finished_first = !child.running();
        const auto signalled = Clock::now();
        if (!o.finished_first) {
            ::kill(child.pid(), sig);
            while (child.running() && Clock::now() - signalled < std::chrono::milliseconds(wait_ms))
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            o.exit_after_signal =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled);
            child.stop(0);
        }
        o.status = child.exit_status();
    }
    o.log = slurp(log);
    return o;
}

// The suite's registry and the image in it: built once, pushed by kiln.
struct BigImage {
    std::unique_ptr<Scratch> dir;
    std::unique_ptr<RegistryFixture> reg;
    std::string name;          // HOST/kiln/big:1
    std::string digest;        // its manifest digest in the registry (gzip layers)
    std::string local_digest;  // in the builder's store (uncompressed layers)
    std::string error;         // why the suite cannot run, when it cannot
};
BigImage* big = nullptr;

class RegistryInterrupt : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        big = new BigImage;
        if (RegistryFixture::missing_tools(RegistryMode::plain))
            return;
        big->dir = std::make_unique<Scratch>();
        try {
            big->reg = std::make_unique<RegistryFixture>(RegistryMode::plain);
        } catch (const std::exception& e) {
            big->error = std::string("the registry did not start: ") + e.what();
            return;
        }
        const fs::path ctx = big->dir->path() / "ctx";
        // Two 30 MB layers (downloaded in parallel) and a small one.
        write(ctx / "Dockerfile",
              "FROM scratch\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nCOPY small.txt /small.txt\n");
        write_random(ctx / "a.bin", 30 << 20, 21);
        write_random(ctx / "b.bin", 30 << 20, 22);
        write(ctx / "small.txt", "small\n");
        big->name = big->reg->host() + "/kiln/big:1";
        auto r = run_kiln(builder_root(), {"build", "--push", "-t", big->name, ctx.string()});
        big->digest = pushed_digest(r.err);
        big->local_digest = r.out.substr(0, r.out.find('\n'));
        if (r.exit_code != 0 || big->digest.size() != 71 || big->local_digest.size() != 71)
            big->error = "building and pushing the image failed: " + joined(r);
    }
    static void TearDownTestSuite() {
        delete big;
        big = nullptr;
    }
    static fs::path builder_root() { return big->dir->path() / "builder"; }

    void SetUp() override {
        if (auto why = RegistryFixture::missing_tools(RegistryMode::plain))
            GTEST_SKIP() << *why;
        if (auto why = FaultProxy::missing_tools())
            GTEST_SKIP() << *why;
        ASSERT_TRUE(big->error.empty()) << big->error;
    }

    // Every blob is what its name says; `name` is in the store only as a whole
    // image with the expected digest. Returns whether the store names it.
    bool expect_store_whole(const fs::path& root, const std::string& name,
                            const std::string& digest = big->digest) {
        const fs::path blobs = root / "blobs/sha256";
        std::vector<std::string> sum{"sha256sum", "--"};
        if (fs::exists(blobs))
            for (auto& e : fs::directory_iterator(blobs))
                sum.push_back(e.path().string());
        if (sum.size() > 2) {
            auto r = run(sum);
            EXPECT_EQ(r.exit_code, 0) << joined(r);
            std::istringstream lines(r.out);
            std::string hex, path;
            while (lines >> hex >> path)
                EXPECT_EQ(fs::path(path).filename().string(), hex)
                    << path << " does not hold what its name says";
        }
        auto images = run_kiln(root, {"images"});
        EXPECT_EQ(images.exit_code, 0) << joined(images);
        if (images.out.find(name) == std::string::npos)
            return false;
        auto inspect = run({"skopeo", "inspect", "oci:" + root.string() + ":" + name});
        EXPECT_EQ(inspect.exit_code, 0) << joined(inspect);
        if (inspect.exit_code != 0)
            return true;
        EXPECT_EQ(json::parse(inspect.out).at("Digest"), digest);
        // Everything the manifest names is in the store.
        auto manifest = json::parse(slurp(blobs / digest.substr(7)));
        std::vector<json> descs{manifest.at("config")};
        for (const auto& l : manifest.at("layers"))
            descs.push_back(l);
        for (const auto& d : descs)
            EXPECT_TRUE(fs::exists(blobs / d.at("digest").get<std::string>().substr(7)))
                << name << " is named but " << d.at("digest") << " is missing";
        return true;
    }

    // After an interrupted pull: the store is whole, and a pull completes.
    void expect_pull_recovers(const fs::path& root, const Outcome& o) {
        const bool named = expect_store_whole(root, big->name);
        if (WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) {
            EXPECT_TRUE(named) << "the pull succeeded but the store lacks the name; " << o.str();
        }
        auto again = run_kiln(root, {"pull", big->name});
        ASSERT_EQ(again.exit_code, 0) << joined(again) << "\nafter: " << o.str();
        EXPECT_NE(again.out.find("Digest: " + big->digest), std::string::npos) << again.out;
        EXPECT_TRUE(expect_store_whole(root, big->name));
    }

    // A tag the registry has must name a whole image: skopeo copies it (and
    // checks every blob's digest) or it is absent.
    // Returns whether the tag was there.
    bool expect_tag_absent_or_whole(const RegistryFixture& reg, const std::string& repo_tag,
                                    const std::string& copy_to) {
        auto inspect = run({"skopeo", "inspect", "--tls-verify=false", reg.skopeo_ref(repo_tag)});
        if (inspect.exit_code != 0) {
            EXPECT_TRUE(inspect.err.find("manifest unknown") != std::string::npos ||
                        inspect.err.find("not found") != std::string::npos ||
                        inspect.err.find("404") != std::string::npos)
                << joined(inspect);
            return false;
        }
        EXPECT_EQ(json::parse(inspect.out).at("Digest"), big->digest);
        auto copy = run({"skopeo", "copy", "--src-tls-verify=false", reg.skopeo_ref(repo_tag),
                         "oci:" + copy_to + ":t"});
        EXPECT_EQ(copy.exit_code, 0) << joined(copy);
        return true;
    }

    // Pushes the builder's image to a fresh registry behind a throttling proxy,
    // interrupted by `sig` part way; then checks the registry and pushes again.
    void interrupted_push(int sig, int delay_ms) {
        RegistryFixture reg(RegistryMode::plain);
        FaultProxy proxy(reg, throttled());
        const std::string dest = proxy.host() + "/kiln/pushed:1";
        auto o = interrupt_kiln(builder_root(), {"push", big->name, dest}, sig, delay_ms,
                                dir / "push.log");
        ASSERT_FALSE(o.finished_first)
            << "the push finished before the signal: nothing was interrupted; " << o.str();
        if (sig == SIGINT) {
            EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 130)
                << "Ctrl-C did not stop kiln push: " << o.str();
            EXPECT_LT(o.exit_after_signal.count(), 5000) << "kiln push ignored Ctrl-C: " << o.str();
            EXPECT_NE(o.log.find("interrupted"), std::string::npos) << o.str();
            EXPECT_EQ(o.log.find("terminate called"), std::string::npos) << o.str();
        } else {
            EXPECT_TRUE(WIFSIGNALED(o.status) && WTERMSIG(o.status) == sig) << o.str();
        }
        const bool tagged =
            expect_tag_absent_or_whole(reg, "kiln/pushed:1", (dir / "after-kill").string());
        expect_store_whole(builder_root(), big->name, big->local_digest);

        auto again = run_kiln(builder_root(), {"push", big->name, dest});
        ASSERT_EQ(again.exit_code, 0) << joined(again) << "\nafter: " << o.str();
        EXPECT_EQ(pushed_digest(again.out), big->digest) << again.out;
        auto inspect =
            run({"skopeo", "inspect", "--tls-verify=false", reg.skopeo_ref("kiln/pushed:1")});
        ASSERT_EQ(inspect.exit_code, 0) << joined(inspect);
        EXPECT_EQ(json::parse(inspect.out).at("Digest"), big->digest);
        auto copy =
            run({"skopeo", "copy", "--src-tls-verify=false", reg.skopeo_ref("kiln/pushed:1"),
                 "oci:" + (dir / "copied").string() + ":t"});
        EXPECT_EQ(copy.exit_code, 0) << joined(copy);
        std::cout << "[ interrupted push, " << strsignal(sig) << " after " << delay_ms
                  << " ms: " << describe(o.status)
                  << (o.finished_first ? " (finished before the signal)" : "") << ", "
                  << o.exit_after_signal.count() << " ms after it; tag "
                  << (tagged ? "present" : "absent") << "; last line: " << last_line(o.log)
                  << " ]\n";
    }

    Scratch dir;
};

}  // namespace

TEST_F(RegistryInterrupt, KilledPullLeavesAStoreTheNextPullCompletes) {
    const fs::path root = dir / "root";
    // Twice into the same root, at different moments: the second starts from
    // whatever the first left. (On loopback the whole pull takes about 300 ms.)
    for (int delay : {150, 80}) {
        auto o = interrupt_kiln(root, {"pull", big->name}, SIGKILL, delay,
                                dir / ("pull-" + std::to_string(delay) + ".log"));
        std::cout << "[ pull SIGKILL after " << delay << " ms: " << describe(o.status)
                  << (o.finished_first ? " (finished first)" : "") << " ]\n";
        EXPECT_TRUE(o.finished_first || (WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGKILL))
            << o.str();
        const bool named = expect_store_whole(root, big->name);
        if (WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0) {
            EXPECT_TRUE(named) << o.str();
        }
    }
    auto again = run_kiln(root, {"pull", big->name});
    ASSERT_EQ(again.exit_code, 0) << joined(again);
    EXPECT_NE(again.out.find("Digest: " + big->digest), std::string::npos) << again.out;
    EXPECT_TRUE(expect_store_whole(root, big->name));
    auto local = run({"skopeo", "inspect", "oci:" + root.string() + ":" + big->name});
    ASSERT_EQ(local.exit_code, 0) << joined(local);
    EXPECT_EQ(json::parse(local.out).at("Digest"), big->digest);
}

TEST_F(RegistryInterrupt, CtrlCStopsAPullPromptlyAndCleanly) {
    const fs::path root = dir / "root";
    FaultProxy proxy(*big->reg, throttled());
    const std::string slow_name = proxy.host() + "/kiln/big:1";
    auto o = interrupt_kiln(root, {"pull", slow_name}, SIGINT, kSignalAfterMs, dir / "pull.log");
    std::cout << "[ pull SIGINT after " << kSignalAfterMs << " ms: " << describe(o.status)
              << (o.finished_first ? " (finished first)" : "") << ", "
              << o.exit_after_signal.count()
              << " ms after the signal; last line: " << last_line(o.log) << " ]\n";
    ASSERT_FALSE(o.finished_first)
        << "the pull finished before Ctrl-C: nothing was interrupted; " << o.str();
    // Stopped mid-transfer, promptly, with the interrupt's exit code and message;
    // never a crash, never a hang, never a half-pulled image under the name.
    EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 130)
        << "Ctrl-C did not stop kiln pull: " << o.str();
    EXPECT_LT(o.exit_after_signal.count(), 3000) << "kiln pull ignored Ctrl-C: " << o.str();
    EXPECT_NE(o.log.find("interrupted"), std::string::npos) << o.str();
    EXPECT_EQ(o.log.find("terminate called"), std::string::npos) << o.str();
    EXPECT_EQ(o.log.find("Digest:"), std::string::npos) << o.str();
    EXPECT_FALSE(expect_store_whole(root, slow_name))
        << "an interrupted pull named the image: " << o.str();
    expect_pull_recovers(root, o);
    auto local = run({"skopeo", "inspect", "oci:" + root.string() + ":" + big->name});
    ASSERT_EQ(local.exit_code, 0) << joined(local);
    EXPECT_EQ(json::parse(local.out).at("Digest"), big->digest);
}

TEST_F(RegistryInterrupt, KilledPushNeverLeavesATagOnAnIncompleteImage) {
    interrupted_push(SIGKILL, kSignalAfterMs);
}

TEST_F(RegistryInterrupt, CtrlCStopsAPushPromptlyAndTheNextPushCompletes) {
    interrupted_push(SIGINT, kSignalAfterMs);
}
