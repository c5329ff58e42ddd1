// images, inspect, rmi, tag, version, debug dump-ast, and names checked before
// any work: what a user sees.
#include <gtest/gtest.h>

#include <set>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {

// Every file under the root's blob store and its index, to tell whether a
// command wrote anything.
std::set<std::string> store_files(const fs::path& root) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root / "blobs", ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        out.insert(it->path().lexically_relative(root).string());
    out.insert("index.json=" + slurp(root / "index.json"));
    return out;
}

// The bad names of issue #10, each with what the message must say.
struct BadName {
    std::string name;
    std::string why;
};
std::vector<BadName> bad_names() {
    return {{"UPPER:case", "repository name must be lowercase"},
            {"a::b", "tag \":b\" is not"},
            {":tag", "empty path component"},
            {std::string(300, 'a'), "must not be more than 255 characters"},
            {"a b", "not a valid repository name component"}};
}

// Builds a one-file image from scratch named `name` into dir/root; its digest
// ("" after a failure the test has been told of).
std::string build_named(const fs::path& dir, const std::string& name) {
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    auto b = run_kiln(dir / "root", {"build", "-t", name, (dir / "ctx").string()});
    EXPECT_EQ(b.exit_code, 0) << b.err;
    return b.exit_code == 0 ? b.out.substr(0, b.out.find('\n')) : "";
}

}  // namespace

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

TEST(StoreCommands, DockerHubSpellingsNameOneImage) {
    Scratch dir;
    const std::string digest = build_named(dir.path(), "library/busybox");
    ASSERT_FALSE(digest.empty());
    // Stored under Docker's familiar name, as `FROM library/busybox` would look it up.
    auto images = run_kiln(dir / "root", {"images"});
    EXPECT_NE(images.out.find("busybox:latest"), std::string::npos) << images.out;
    EXPECT_EQ(images.out.find("library/"), std::string::npos) << images.out;
    for (const char* name : {"library/busybox", "busybox", "docker.io/library/busybox:latest"}) {
        auto inspect = run_kiln(dir / "root", {"inspect", name});
        ASSERT_EQ(inspect.exit_code, 0) << name << ": " << inspect.err;
        auto j = json_of(inspect);
        EXPECT_EQ(j.at("Name"), "busybox:latest") << name;
        EXPECT_EQ(j.at("Digest"), digest) << name;
    }
    auto rmi = run_kiln(dir / "root", {"rmi", "library/busybox"});
    ASSERT_EQ(rmi.exit_code, 0) << rmi.err;
    EXPECT_NE(rmi.out.find("Untagged: busybox:latest"), std::string::npos) << rmi.out;
    EXPECT_EQ(run_kiln(dir / "root", {"inspect", "busybox"}).exit_code, 1);
}

// docker tag: a second name for an image, given by name or by digest; the
// new name is normalised as every other; a bad or missing one changes nothing.
TEST(StoreCommands, TagGivesAnImageAnotherName) {
    Scratch dir;
    const std::string digest = build_named(dir.path(), "app:1");
    ASSERT_FALSE(digest.empty());

    auto t = run_kiln(dir / "root", {"tag", "app:1", "docker.io/library/other:2"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    auto by_digest = run_kiln(dir / "root", {"tag", digest, "localhost:5000/third"});
    ASSERT_EQ(by_digest.exit_code, 0) << by_digest.err;
    auto images = run_kiln(dir / "root", {"images"});
    for (const char* n : {"app:1", "other:2", "localhost:5000/third:latest"})
        EXPECT_NE(images.out.find(n), std::string::npos) << n << "\n" << images.out;
    // skopeo reads the new names from the store's index as any OCI layout's.
    for (const char* n : {"other:2", "localhost:5000/third:latest"}) {
        auto sk = json_of(run({"skopeo", "inspect", "oci:" + (dir / "root").string() + ":" + n}));
        EXPECT_EQ(sk.at("Digest"), digest) << n;
    }
    // The names are independent: removing one leaves the others.
    ASSERT_EQ(run_kiln(dir / "root", {"rmi", "app:1"}).exit_code, 0);
    EXPECT_EQ(json_of(run_kiln(dir / "root", {"inspect", "library/other:2"})).at("Digest"), digest);

    const auto before = store_files(dir / "root");
    auto missing = run_kiln(dir / "root", {"tag", "nothere:1", "x:1"});
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("no such image: nothere:1"), std::string::npos) << missing.err;
    auto with_digest = run_kiln(dir / "root", {"tag", "other:2", "x@" + digest});
    EXPECT_EQ(with_digest.exit_code, 1);
    EXPECT_NE(with_digest.err.find("cannot hold a digest"), std::string::npos) << with_digest.err;
    auto bad = run_kiln(dir / "root", {"tag", "other:2", "UPPER:case"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("repository name must be lowercase"), std::string::npos) << bad.err;
    EXPECT_EQ(store_files(dir / "root"), before);
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

TEST(StoreCommands, BadTagsFailBeforeAnyStepRuns) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    ASSERT_EQ(run_kiln(dir / "root", {"build", "-t", "good", (dir / "ctx").string()}).exit_code, 0);
    // New content: a build that ran its COPY would add a layer blob.
    write(dir / "ctx/a", "changed");
    const auto before = store_files(dir / "root");
    for (const auto& bad : bad_names()) {
        SCOPED_TRACE(bad.name);
        auto r = run_kiln(dir / "root",
                          {"build", "-t", "fine:1", "-t", bad.name, (dir / "ctx").string()});
        EXPECT_NE(r.exit_code, 0) << joined(r);
        // One line, naming the tag, and no progress (no step started).
        EXPECT_EQ(r.err.rfind("error: invalid tag \"" + bad.name + "\": ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(bad.why), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(store_files(dir / "root"), before);
    }
    // And the output's name= the same way.
    auto r =
        run_kiln(dir / "root", {"build", "-o", "type=image,name=Bad:1", (dir / "ctx").string()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("error: invalid name \"Bad:1\": ", 0), 0u) << r.err;
    EXPECT_EQ(store_files(dir / "root"), before);
    // A good tag still builds.
    auto ok = run_kiln(dir / "root", {"build", "-t", "fine:1", (dir / "ctx").string()});
    EXPECT_EQ(ok.exit_code, 0) << joined(ok);
}

TEST(StoreCommands, LoadAndPushCheckNewNamesFirst) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    ASSERT_EQ(run_kiln(dir / "root", {"build", "-o", "type=oci,dest=" + (dir / "img.tar").string(),
                                      (dir / "ctx").string()})
                  .exit_code,
              0);
    for (const auto& bad : bad_names()) {
        SCOPED_TRACE(bad.name);
        auto load =
            run_kiln(dir / "root2", {"load", "-i", (dir / "img.tar").string(), "-t", bad.name});
        EXPECT_NE(load.exit_code, 0);
        EXPECT_EQ(load.err.rfind("error: invalid tag \"" + bad.name + "\": ", 0), 0u) << load.err;
        EXPECT_EQ(load.err.find('\n'), load.err.size() - 1) << load.err;
        EXPECT_NE(load.err.find(bad.why), std::string::npos) << load.err;
        EXPECT_FALSE(fs::exists(dir / "root2" / "index.json")) << "load wrote to the store";

        // Nothing is looked up or contacted for a name that cannot be pushed to.
        auto push = run_kiln(dir / "root", {"push", "whatever:1", bad.name});
        EXPECT_NE(push.exit_code, 0);
        EXPECT_EQ(push.err.rfind("error: invalid reference \"" + bad.name + "\": ", 0), 0u)
            << push.err;
    }
    auto good = run_kiln(dir / "root2", {"load", "-i", (dir / "img.tar").string(), "-t", "ok:1"});
    EXPECT_EQ(good.exit_code, 0) << joined(good);
}

TEST(StoreCommands, LoadOfADirectorySaysItIsNotAnArchive) {
    Scratch dir;
    write(dir / "ctx/Dockerfile", "FROM scratch\nCOPY a /a\n");
    write(dir / "ctx/a", "a");
    // kiln's own OCI layout directory: what a user may well try to load.
    const auto layout = dir / "layout";
    ASSERT_EQ(run_kiln(dir / "root",
                       {"build", "-o", "type=oci,dest=" + layout.string(), (dir / "ctx").string()})
                  .exit_code,
              0);
    ASSERT_TRUE(fs::is_directory(layout));
    auto r = run_kiln(dir / "root", {"load", "-i", layout.string()});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(
        r.err.rfind(
            "error: cannot load " + layout.string() + ": it is a directory, not an archive (", 0),
        0u)
        << r.err;
    EXPECT_NE(r.err.find(".tar"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;

    auto missing = run_kiln(dir / "root", {"load", "-i", (dir / "nothing.tar").string()});
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.err.find("no such file"), std::string::npos) << missing.err;
}
