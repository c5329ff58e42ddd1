// Image references: Docker's normalisation, validation and derived names.
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/reference.h"
#include "tests/unit/scoped_env.h"

using namespace kiln;

namespace {

const std::string kDigest =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct ValidCase {
    std::string text;
    std::string domain;
    std::string repository;
    std::string tag;
    std::string digest;  // empty: none
    std::string str;
};

// The error for `text`, or "" when it parsed.
std::string parse_error(const std::string& text) {
    try {
        parse_reference(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

using kiln::testing::ScopedEnv;

}  // namespace

TEST(Reference, ParsesValidReferences) {
    const ValidCase cases[] = {
        {"busybox", "docker.io", "library/busybox", "latest", "",
         "docker.io/library/busybox:latest"},
        {"library/busybox:1.36", "docker.io", "library/busybox", "1.36", "",
         "docker.io/library/busybox:1.36"},
        {"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
         "docker.io/library/busybox:latest"},
        {"index.docker.io/x/y", "docker.io", "x/y", "latest", "", "docker.io/x/y:latest"},
        {"index.docker.io/x", "docker.io", "library/x", "latest", "", "docker.io/library/x:latest"},
        {"localhost:5000/a/b:t", "localhost:5000", "a/b", "t", "", "localhost:5000/a/b:t"},
        {"localhost/a", "localhost", "a", "latest", "", "localhost/a:latest"},
        {"127.0.0.1:5000/x@" + kDigest, "127.0.0.1:5000", "x", "", kDigest,
         "127.0.0.1:5000/x@" + kDigest},
        {"ghcr.io/o/r:t@" + kDigest, "ghcr.io", "o/r", "t", kDigest, "ghcr.io/o/r:t@" + kDigest},
        {"a.b/c", "a.b", "c", "latest", "", "a.b/c:latest"},
        {"host:5000/x:y", "host:5000", "x", "y", "", "host:5000/x:y"},
        {"org/app", "docker.io", "org/app", "latest", "", "docker.io/org/app:latest"},
        {"a/b/c/d:v1.0-rc_1", "docker.io", "a/b/c/d", "v1.0-rc_1", "",
         "docker.io/a/b/c/d:v1.0-rc_1"},
        {"x.y_z__w---v:TAG", "docker.io", "library/x.y_z__w---v", "TAG", "",
         "docker.io/library/x.y_z__w---v:TAG"},
        {"[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest"},
        // Docker's rule: an upper-case first component can only be a host.
        {"UPPER/x", "UPPER", "x", "latest", "", "UPPER/x:latest"},
        // Without a '/', "name:port" is a Docker Hub name and a tag.
        {"localhost:5000", "docker.io", "library/localhost", "5000", "",
         "docker.io/library/localhost:5000"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        Reference r = parse_reference(c.text);
        EXPECT_EQ(r.domain, c.domain);
        EXPECT_EQ(r.repository, c.repository);
        EXPECT_EQ(r.tag, c.tag);
        EXPECT_EQ(r.digest.value_or(""), c.digest);
        EXPECT_EQ(r.str(), c.str);
    }
}

TEST(Reference, RejectsInvalidReferencesNamingThem) {
    const std::string too_long = "a/" + std::string(254, 'b');  // 256-character repository
    const std::string cases[] = {
        "",
        "Busybox",
        "library/Busybox",
        "x:",
        "x@sha256:short",
        "x::y",
        ":tag",
        "x/",
        "-x",
        "x-",
        "x//y",
        "x..y",
        "x._y",
        "x___y",
        "x:-tag",
        "x:" + std::string(129, 't'),
        "x@",
        "x@sha256:" + std::string(64, 'A'),
        "host:port/x",
        "-host.io/x",
        "x y",
        too_long,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    for (const auto& text : cases) {
        SCOPED_TRACE(text);
        std::string msg = parse_error(text);
        ASSERT_FALSE(msg.empty()) << "accepted";
        EXPECT_NE(msg.find("invalid reference \"" + text + "\""), std::string::npos) << msg;
    }
}

TEST(Reference, UppercaseRepositorySaysLowercase) {
    EXPECT_NE(parse_error("library/Busybox").find("repository name must be lowercase"),
              std::string::npos);
}

TEST(Reference, OtherDigestAlgorithmsSayOnlySha256) {
    std::string msg = parse_error("x@sha512:" + std::string(128, 'a'));
    EXPECT_NE(msg.find("only sha256"), std::string::npos) << msg;
}

TEST(Reference, RepositoryOf255CharactersIsAccepted) {
    const std::string repo = "a/" + std::string(253, 'b');
    EXPECT_EQ(parse_reference(repo).repository, repo);
}

TEST(Reference, TooLongRepositorySaysSo) {
    std::string msg = parse_error("a/" + std::string(254, 'b'));
    EXPECT_NE(msg.find("255"), std::string::npos) << msg;
}

// The 255-character limit is on the repository path, not the host (as
// distribution/reference counts it); on Docker Hub that path has "library/".
TEST(Reference, LengthLimitCountsThePathWithoutTheHost) {
    const std::string path = "a/" + std::string(253, 'b');  // 255
    EXPECT_EQ(parse_reference("registry.example.com:5000/" + path + ":t").repository, path);
    EXPECT_EQ(parse_reference(std::string(247, 'a')).repository,
              "library/" + std::string(247, 'a'));
    std::string msg = parse_error(std::string(248, 'a'));  // library/ + 248 = 256
    EXPECT_NE(msg.find("must not be more than 255 characters"), std::string::npos) << msg;
}

TEST(Reference, TagGrammarIsWordThenWordDotDash) {
    EXPECT_EQ(parse_reference("x:" + std::string(128, 't')).tag, std::string(128, 't'));
    EXPECT_EQ(parse_reference("x:_a.B-9").tag, "_a.B-9");
    EXPECT_EQ(parse_reference("x:Z").tag, "Z");
    for (std::string bad : {"x:.a", "x:-a", "x:a/b", "x:a+b", "x:a b", "x:\xc3\xa9"})
        EXPECT_NE(parse_error(bad), "") << bad;
}

// `kiln build -t`: the same parser, the message naming a tag as buildx does.
TEST(Reference, BuildTagsFromIssue10FailNamingTheTag) {
    const std::pair<std::string, std::string> cases[] = {
        {"UPPER:case", "repository name must be lowercase"},
        {"a::b", "tag \":b\" is not"},
        {":tag", "empty path component"},
        {std::string(300, 'a'), "must not be more than 255 characters"},
        {"a b", "\"a b\" is not a valid repository name component"},
    };
    for (const auto& [text, why] : cases) {
        SCOPED_TRACE(text);
        try {
            parse_reference(text, "tag");
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            std::string msg = e.what();
            EXPECT_EQ(msg.rfind("invalid tag \"" + text + "\": ", 0), 0u) << msg;
            EXPECT_NE(msg.find(why), std::string::npos) << msg;
            EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
        }
    }
}

TEST(Reference, ManifestRefPrefersDigest) {
    EXPECT_EQ(parse_reference("ghcr.io/o/r:t@" + kDigest).manifest_ref(), kDigest);
    EXPECT_EQ(parse_reference("ghcr.io/o/r:t").manifest_ref(), "t");
    EXPECT_EQ(parse_reference("ghcr.io/o/r").manifest_ref(), "latest");
}

TEST(Reference, WithDigestClearsTag) {
    Reference r = parse_reference("ghcr.io/o/r:t").with_digest(kDigest);
    EXPECT_EQ(r.tag, "");
    EXPECT_EQ(r.str(), "ghcr.io/o/r@" + kDigest);
    EXPECT_EQ(r.manifest_ref(), kDigest);
}

TEST(Reference, DockerHubApiHostIsRegistry1) {
    ScopedEnv env("KILN_DOCKER_IO_HOST", std::nullopt);
    EXPECT_EQ(parse_reference("busybox").api_host(), "registry-1.docker.io");
}

TEST(Reference, DockerHubApiHostFollowsTestOverride) {
    ScopedEnv env("KILN_DOCKER_IO_HOST", "127.0.0.1:5999");
    EXPECT_EQ(parse_reference("busybox").api_host(), "127.0.0.1:5999");
    EXPECT_EQ(parse_reference("ghcr.io/o/r").api_host(), "ghcr.io");
}

TEST(Reference, EmptyOverrideIsIgnored) {
    ScopedEnv env("KILN_DOCKER_IO_HOST", "");
    EXPECT_EQ(parse_reference("busybox").api_host(), "registry-1.docker.io");
}

TEST(Reference, OtherRegistriesApiHostIsTheDomain) {
    EXPECT_EQ(parse_reference("localhost:5000/a").api_host(), "localhost:5000");
}

TEST(Reference, StoreNamesAreFamiliar) {
    EXPECT_EQ(store_name(parse_reference("busybox")), "busybox:latest");
    EXPECT_EQ(store_name(parse_reference("docker.io/library/busybox:1.36")), "busybox:1.36");
    EXPECT_EQ(store_name(parse_reference("org/app:1")), "org/app:1");
    EXPECT_EQ(store_name(parse_reference("localhost:5000/a/b")), "localhost:5000/a/b:latest");
    EXPECT_EQ(store_name(parse_reference("busybox@" + kDigest)), "busybox@" + kDigest);
    EXPECT_EQ(store_name(parse_reference("ghcr.io/o/r:t@" + kDigest)), "ghcr.io/o/r@" + kDigest);
}

TEST(Reference, FamiliarStringsAreDockers) {
    EXPECT_EQ(familiar_string(parse_reference("library/busybox")), "busybox:latest");
    EXPECT_EQ(familiar_string(parse_reference("docker.io/library/busybox:1")), "busybox:1");
    EXPECT_EQ(familiar_string(parse_reference("index.docker.io/org/app")), "org/app:latest");
    // "library/a/b" is not "a/b": only a single component loses the prefix.
    EXPECT_EQ(familiar_string(parse_reference("docker.io/library/a/b:t")), "library/a/b:t");
    EXPECT_EQ(familiar_string(parse_reference("localhost/app")), "localhost/app:latest");
    // Both a tag and a digest are kept (store_name keeps only the digest).
    EXPECT_EQ(familiar_string(parse_reference("ghcr.io/o/r:t@" + kDigest)),
              "ghcr.io/o/r:t@" + kDigest);
}
