// What a build shows while it runs, read as a tool reads it: --progress rawjson
// is BuildKit's SolveStatus stream (buildx's field names, base64 log data), one
// JSON object a line; the base64 is decoded by coreutils, not by kiln.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;
using nlohmann::json;

namespace {

class RawJson : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = run_skip_reason(); !why.empty())
            GTEST_SKIP() << why;
        fs::create_directories(dir / "ctx");
        fs::copy_file(busybox_path(), dir / "ctx/busybox");
        write(dir / "ctx/Dockerfile",
              "FROM scratch\nCOPY busybox /bin/busybox\n"
              "RUN [\"/bin/busybox\", \"echo\", \"hello from run\"]\n"
              "ARG unused\n");
    }
    Result build(const std::vector<std::string>& more = {}) {
        std::vector<std::string> argv = {"build", "--progress", "rawjson", "--build-arg",
                                         "NOT_USED=1"};
        argv.insert(argv.end(), more.begin(), more.end());
        argv.push_back((dir / "ctx").string());
        return run_kiln(dir / "root", argv);
    }
    std::vector<json> statuses(const Result& r) {
        std::vector<json> out;
        std::istringstream in(r.err);
        std::string line;
        while (std::getline(in, line)) {
            EXPECT_NO_THROW(out.push_back(json::parse(line))) << "not JSON: " << line;
        }
        return out;
    }
    std::string decode(const std::string& b64) {
        write(dir / "b64", b64);
        return run({"base64", "-d", (dir / "b64").string()}).out;
    }
    Scratch dir;
};

}  // namespace

TEST_F(RawJson, EveryLineIsASolveStatusWithBuildKitsFieldNames) {
    auto r = build();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto all = statuses(r);
    ASSERT_FALSE(all.empty());
    const std::set<std::string> keys = {"vertexes", "statuses", "logs", "warnings"};
    std::map<std::string, std::string> names;  // digest → name
    std::set<std::string> started, completed;
    std::string run_digest, run_output, warnings;
    for (const auto& s : all) {
        for (const auto& [k, v] : s.items())
            EXPECT_TRUE(keys.count(k)) << "unknown key " << k << " in " << s.dump();
        for (const auto& v : s.value("vertexes", json::array())) {
            const std::string d = v.at("digest");
            EXPECT_EQ(d.rfind("sha256:", 0), 0u) << v.dump();
            names[d] = v.at("name");
            if (v.contains("started"))
                started.insert(d);
            if (v.contains("completed")) {
                completed.insert(d);
                EXPECT_TRUE(v.contains("started")) << v.dump();
            }
            if (names[d].find("RUN [\"/bin/busybox\"") != std::string::npos)
                run_digest = d;
        }
        for (const auto& l : s.value("logs", json::array())) {
            EXPECT_EQ(l.at("stream"), 1);
            EXPECT_TRUE(l.at("timestamp").get<std::string>().ends_with("Z")) << l.dump();
            if (l.at("vertex") == run_digest)
                run_output += decode(l.at("data"));
        }
        for (const auto& w : s.value("warnings", json::array()))
            warnings += decode(w.at("short")) + "\n";
    }
    ASSERT_FALSE(run_digest.empty()) << r.err;
    EXPECT_EQ(run_output, "hello from run\n");
    EXPECT_EQ(started, completed) << "a vertex never ended";
    EXPECT_NE(warnings.find("[NOT_USED] were not consumed"), std::string::npos) << warnings;
    // The digest alone is what stdout holds.
    EXPECT_EQ(r.out.rfind("sha256:", 0), 0u) << r.out;

    // Again: the RUN's vertex comes back cached.
    auto again = build();
    ASSERT_EQ(again.exit_code, 0) << again.err;
    bool cached = false;
    for (const auto& s : statuses(again))
        for (const auto& v : s.value("vertexes", json::array()))
            if (v.at("name").get<std::string>().find("RUN [\"/bin/busybox\"") !=
                    std::string::npos &&
                v.value("cached", false))
                cached = true;
    EXPECT_TRUE(cached) << again.err;
}

TEST_F(RawJson, AFailingStepCarriesItsErrorInItsVertex) {
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"false\"]\n");
    auto r = build();
    EXPECT_EQ(r.exit_code, 1);
    bool failed = false;
    std::istringstream in(r.err);
    std::string line, last;
    while (std::getline(in, line)) {
        last = line;
        if (line.starts_with("error: "))
            continue;  // the CLI's own one line, after the stream
        auto s = json::parse(line);
        for (const auto& v : s.value("vertexes", json::array()))
            if (v.contains("error") &&
                v.at("name").get<std::string>().find("false") != std::string::npos)
                failed = true;
    }
    EXPECT_TRUE(failed) << r.err;
    EXPECT_EQ(last.rfind("error: Dockerfile:3: ", 0), 0u) << r.err;
}
