// images, inspect, rmi, version, debug dump-ast: what a user sees.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

TEST(StoreCommands, ImagesInspectRmi) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\nCMD [\"/a\"]\n");
    write(dir / "ctx/a", "a");
    auto b = run_kiln(dir / "root", {"build", "-t", "one", "-t", "two:v2", (dir / "ctx").string()});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    std::string digest = b.out.substr(0, b.out.find('\n'));

    auto images = run_kiln(dir / "root", {"images"});
    ASSERT_EQ(images.exit_code, 0) << images.err;
    EXPECT_NE(images.out.find("one:latest"), std::string::npos) << images.out;
    EXPECT_NE(images.out.find("two:v2"), std::string::npos) << images.out;

    auto inspect = run_kiln(dir / "root", {"inspect", "two:v2"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    auto j = json_of(inspect);
    EXPECT_EQ(j.at("Digest"), digest);
    EXPECT_EQ(j.at("Config").at("config").at("Cmd"), nlohmann::json({"/a"}));
    EXPECT_EQ(j.at("Manifest").at("layers").size(), 1u);
    // The same image as skopeo sees it.
    auto sk = json_of(run({"skopeo", "inspect", "oci:" + (dir / "root").string() + ":two:v2"}));
    EXPECT_EQ(sk.at("Digest"), digest);

    auto rmi = run_kiln(dir / "root", {"rmi", "one"});
    ASSERT_EQ(rmi.exit_code, 0) << rmi.err;
    EXPECT_EQ(run_kiln(dir / "root", {"inspect", "one"}).exit_code, 1);
    auto missing = run_kiln(dir / "root", {"rmi", "one"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such image: one:latest"), std::string::npos) << missing.err;
    EXPECT_EQ(run_kiln(dir / "root", {"inspect", "two:v2"}).exit_code, 0);
}

TEST(StoreCommands, Version) {
    Scratch dir;
    auto v = run_kiln(dir / "root", {"version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.out.rfind("kiln ", 0), 0u) << v.out;
}

TEST(StoreCommands, DumpAstPrintsBuildKitFormat) {
    Scratch dir;
    write(dir / "Dockerfile", "from scratch\nCOPY --chown=1:1 a /b\nENV k=v\n");
    auto r = run_kiln(dir / "root", {"debug", "dump-ast", (dir / "Dockerfile").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(
        r.out,
        "(from \"scratch\")\n(copy [\"--chown=1:1\"] \"a\" \"/b\")\n(env \"k\" \"v\" \"=\")\n");
}

TEST(StoreCommands, ConcurrentBuildsShareOneRoot) {
    Scratch dir;
    for (int i = 0; i < 3; ++i) {
        auto c = dir / ("ctx" + std::to_string(i));
        write(c / "Dockerfile", "FROM scratch\nCOPY f /f\n");
        write(c / "f", std::to_string(i));
    }
    // Started together through a shell so they really overlap.
    std::string cmd;
    for (int i = 0; i < 3; ++i) {
        cmd += std::string(KILN_BINARY) + " --root " + (dir / "root").string() + " build -t img" +
               std::to_string(i) + " " + (dir / ("ctx" + std::to_string(i))).string() +
               " 2>/dev/null & ";
    }
    cmd += "wait";
    ASSERT_EQ(run({"sh", "-c", cmd}).exit_code, 0);
    auto images = run_kiln(dir / "root", {"images"});
    for (int i = 0; i < 3; ++i)
        EXPECT_NE(images.out.find("img" + std::to_string(i) + ":latest"), std::string::npos)
            << images.out;
}
