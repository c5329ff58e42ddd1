// Docker config.json credentials: file entries, credential helpers, rewrites.
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/error.h"
#include "content/atomic_file.h"
#include "content/temp_dir.h"
#include "registry/credentials.h"
#include "tests/unit/scoped_env.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::registry;
using nlohmann::json;

namespace {

using kiln::testing::ScopedEnv;

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

// A fake `docker-credential-kilntest` keeping one file per server in
// bin/store/; a server URL containing "fail" makes it fail outright.
const char kHelperScript[] = R"SH(#!/bin/sh
dir="$(dirname "$0")/store"
mkdir -p "$dir"
key() { printf %s "$1" | tr -c 'A-Za-z0-9.' _; }
case "$1" in
get)
  read -r server
  case "$server" in *fail*) echo "keyring is locked" >&2; exit 3;; esac
  f="$dir/$(key "$server")"
  if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  body=$(cat)
  server=$(printf %s "$body" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
  printf %s "$body" > "$dir/$(key "$server")" ;;
erase)
  read -r server
  f="$dir/$(key "$server")"
  if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) exit 2 ;;
esac
)SH";

class CredentialStoreTest : public ::testing::Test {
  protected:
    CredentialStoreTest()
        : tmp_(fs::temp_directory_path(), "kiln-creds-"),
          config_(tmp_.path() / "config.json"),
          bin_(tmp_.path() / "bin"),
          path_env_("PATH",
                    bin_.string() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "")) {
        fs::create_directory(bin_);
        write(bin_ / "docker-credential-kilntest", kHelperScript);
        fs::permissions(bin_ / "docker-credential-kilntest", fs::perms::owner_all);
    }
    // Puts an answer for `server` into the fake helper's store.
    void helper_has(const std::string& server, const std::string& user, const std::string& secret) {
        fs::create_directories(bin_ / "store");
        std::string key = server;
        for (char& c : key)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.')
                c = '_';
        write(bin_ / "store" / key,
              json{{"ServerURL", server}, {"Username", user}, {"Secret", secret}}.dump());
    }

    TempDir tmp_;
    fs::path config_;
    fs::path bin_;
    ScopedEnv path_env_;
};

std::string thrown_by(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Base64, RoundTripsAllLengths) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
    std::string bytes;
    for (int i = 0; i < 256; ++i)
        bytes += static_cast<char>(i);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
}

TEST(Base64, DecodesWithOrWithoutPadding) {
    EXPECT_EQ(base64_decode("Zm8="), "fo");
    EXPECT_EQ(base64_decode("Zm8"), "fo");
    EXPECT_EQ(base64_decode("Zg"), "f");
}

TEST(Base64, RejectsGarbage) {
    EXPECT_EQ(base64_decode("Zm9v!"), std::nullopt);
    EXPECT_EQ(base64_decode("Z"), std::nullopt);
    EXPECT_EQ(base64_decode("Zm=v"), std::nullopt);
    EXPECT_EQ(base64_decode("Zm9v===="), std::nullopt);
}

TEST(DockerConfigPath, UsesDockerConfig) {
    ScopedEnv dc("DOCKER_CONFIG", "/some/where");
    EXPECT_EQ(docker_config_path(), fs::path("/some/where/config.json"));
}

TEST(DockerConfigPath, FallsBackToHome) {
    ScopedEnv dc("DOCKER_CONFIG", std::nullopt);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(docker_config_path(), fs::path("/home/someone/.docker/config.json"));
}

TEST(DockerConfigPath, WithoutHomeAsksThePasswordDatabase) {
    ScopedEnv dc("DOCKER_CONFIG", std::nullopt);
    ScopedEnv home("HOME", std::nullopt);
    fs::path p = docker_config_path();
    EXPECT_EQ(p.filename(), "config.json");
    EXPECT_EQ(p.parent_path().filename(), ".docker");
}

TEST_F(CredentialStoreTest, MissingFileMeansNone) {
    EXPECT_EQ(CredentialStore(config_).lookup("ghcr.io"), std::nullopt);
}

TEST_F(CredentialStoreTest, ReadsAuthField) {
    write(config_, R"({"auths": {"ghcr.io": {"auth": "dXNlcjpwYTpzcw=="}}})");  // user:pa:ss
    auto c = CredentialStore(config_).lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "user");
    EXPECT_EQ(c->password, "pa:ss");
}

TEST_F(CredentialStoreTest, ReadsUsernameAndPasswordFields) {
    write(config_, R"({"auths": {"ghcr.io": {"username": "u", "password": "p"}}})");
    auto c = CredentialStore(config_).lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "u");
    EXPECT_EQ(c->password, "p");
}

TEST_F(CredentialStoreTest, ReadsIdentityToken) {
    write(config_, R"({"auths": {"ghcr.io": {"identitytoken": "tok"}}})");
    auto c = CredentialStore(config_).lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->identity_token, "tok");
}

TEST_F(CredentialStoreTest, DockerHubUsesIndexKey) {
    write(config_, R"({"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}}})");
    auto c = CredentialStore(config_).lookup("docker.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "u");
}

TEST_F(CredentialStoreTest, DockerHubAlsoFoundUnderDockerIo) {
    write(config_, R"({"auths": {"docker.io": {"auth": "dTpw"}}})");
    EXPECT_TRUE(CredentialStore(config_).lookup("docker.io"));
}

TEST_F(CredentialStoreTest, SchemeAndPathInKeyStillMatchHost) {
    write(config_, R"({"auths": {"https://localhost:5000/v2/": {"auth": "dTpw"}}})");
    EXPECT_TRUE(CredentialStore(config_).lookup("localhost:5000"));
    EXPECT_FALSE(CredentialStore(config_).lookup("localhost:5001"));
}

TEST_F(CredentialStoreTest, EmptyEntryMeansNone) {
    write(config_, R"({"auths": {"ghcr.io": {}}})");
    EXPECT_EQ(CredentialStore(config_).lookup("ghcr.io"), std::nullopt);
}

TEST_F(CredentialStoreTest, EmptyFileMeansNone) {
    write(config_, "");
    EXPECT_EQ(CredentialStore(config_).lookup("ghcr.io"), std::nullopt);
}

TEST_F(CredentialStoreTest, MalformedFileIsAnErrorNamingIt) {
    write(config_, R"({"auths": {)");
    std::string msg = thrown_by([&] { CredentialStore(config_).lookup("ghcr.io"); });
    EXPECT_NE(msg.find(config_.string()), std::string::npos) << msg;
}

// Found by tests/fuzz/credentials_fuzzer: a number too large for any integer type
// made the JSON reader throw its out_of_range, which escaped as no kiln::Error. The
// input (after the fuzzer's selector byte) is the file.
TEST_F(CredentialStoreTest, AHugeNumberIsAnErrorNamingTheFile) {
    std::string input =
        read_file(std::string(KILN_TESTDATA_DIR) + "/fuzz/credentials/crash-number-overflow");
    ASSERT_FALSE(input.empty());
    write(config_, input.substr(1));
    std::string msg = thrown_by([&] { CredentialStore(config_).lookup("ghcr.io"); });
    EXPECT_NE(msg.find(config_.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("malformed JSON in Docker config file"), std::string::npos) << msg;
}

// Found by tests/fuzz/credentials_fuzzer: a helper answering "<token>" with no secret
// gave empty credentials instead of none. The input (after the selector byte) is the
// helper's answer.
TEST(HelperAnswer, ATokenUserWithoutASecretIsNoCredentials) {
    std::string input =
        read_file(std::string(KILN_TESTDATA_DIR) + "/fuzz/credentials/crash-token-without-secret");
    ASSERT_FALSE(input.empty());
    EXPECT_EQ(parse_helper_answer(input.substr(1), "helper"), std::nullopt);
    auto c = parse_helper_answer(R"({"Username":"<token>","Secret":"refresh"})", "helper");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->identity_token, "refresh");
    EXPECT_EQ(thrown_by([] { parse_helper_answer("not json", "docker-credential-x answered"); }),
              "docker-credential-x answered with something other than JSON");
}

TEST_F(CredentialStoreTest, BadAuthFieldIsAnErrorNamingFile) {
    write(config_, R"({"auths": {"ghcr.io": {"auth": "not base64!"}}})");
    std::string msg = thrown_by([&] { CredentialStore(config_).lookup("ghcr.io"); });
    EXPECT_NE(msg.find(config_.string()), std::string::npos) << msg;
}

TEST_F(CredentialStoreTest, StoreKeepsOtherKeysAndIsPrivate) {
    write(config_, R"({"psFormat": "table", "auths": {"other.io": {"auth": "eDp5"}}})");
    ::chmod(config_.c_str(), 0644);
    CredentialStore store(config_);
    store.store("ghcr.io", {"user", "pass", ""});
    EXPECT_EQ(mode_of(config_), 0600);
    json doc = json::parse(read_file(config_));
    EXPECT_EQ(doc["psFormat"], "table");
    EXPECT_EQ(doc["auths"]["other.io"]["auth"], "eDp5");
    EXPECT_EQ(doc["auths"]["ghcr.io"]["auth"], "dXNlcjpwYXNz");
    auto c = store.lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->password, "pass");
}

TEST_F(CredentialStoreTest, StoreForDockerHubUsesIndexKey) {
    CredentialStore(config_).store("docker.io", {"u", "p", ""});
    json doc = json::parse(read_file(config_));
    EXPECT_EQ(doc["auths"]["https://index.docker.io/v1/"]["auth"], "dTpw");
}

TEST_F(CredentialStoreTest, StoreCreatesPrivateDirectory) {
    fs::path nested = tmp_.path() / "a" / "docker" / "config.json";
    CredentialStore(nested).store("ghcr.io", {"u", "p", ""});
    EXPECT_EQ(mode_of(nested.parent_path()), 0700);
    EXPECT_EQ(mode_of(nested), 0600);
}

TEST_F(CredentialStoreTest, StoreWritesThroughSymlink) {
    write(tmp_.path() / "real.json", "{}");
    fs::create_symlink("real.json", config_);
    CredentialStore(config_).store("ghcr.io", {"u", "p", ""});
    EXPECT_TRUE(fs::is_symlink(config_));
    EXPECT_TRUE(json::parse(read_file(tmp_.path() / "real.json"))["auths"].contains("ghcr.io"));
}

TEST_F(CredentialStoreTest, EraseRemovesEntryAndKeepsOthers) {
    write(config_, R"({"auths": {"ghcr.io": {"auth": "dTpw"}, "other.io": {"auth": "eDp5"}}})");
    CredentialStore store(config_);
    EXPECT_TRUE(store.erase("ghcr.io"));
    EXPECT_EQ(store.lookup("ghcr.io"), std::nullopt);
    EXPECT_TRUE(store.lookup("other.io"));
    EXPECT_EQ(mode_of(config_), 0600);
}

TEST_F(CredentialStoreTest, EraseOfNothingReturnsFalse) {
    write(config_, R"({"auths": {"other.io": {"auth": "eDp5"}}})");
    EXPECT_FALSE(CredentialStore(config_).erase("ghcr.io"));
    EXPECT_FALSE(CredentialStore(tmp_.path() / "absent.json").erase("ghcr.io"));
}

TEST_F(CredentialStoreTest, CredsStoreHelperAnswersGet) {
    write(config_, R"({"credsStore": "kilntest"})");
    helper_has("ghcr.io", "hu", "hs");
    auto c = CredentialStore(config_).lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "hu");
    EXPECT_EQ(c->password, "hs");
}

TEST_F(CredentialStoreTest, HelperTokenUsernameMeansIdentityToken) {
    write(config_, R"({"credsStore": "kilntest"})");
    helper_has("https://index.docker.io/v1/", "<token>", "refresh");
    auto c = CredentialStore(config_).lookup("docker.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "");
    EXPECT_EQ(c->identity_token, "refresh");
}

TEST_F(CredentialStoreTest, HelperNotFoundMeansNone) {
    write(config_, R"({"credsStore": "kilntest"})");
    EXPECT_EQ(CredentialStore(config_).lookup("ghcr.io"), std::nullopt);
}

TEST_F(CredentialStoreTest, HelperFailureIsAnErrorNamingHelper) {
    write(config_, R"({"credsStore": "kilntest"})");
    std::string msg = thrown_by([&] { CredentialStore(config_).lookup("fail.io"); });
    EXPECT_NE(msg.find("docker-credential-kilntest"), std::string::npos) << msg;
    EXPECT_NE(msg.find("keyring is locked"), std::string::npos) << msg;
}

TEST_F(CredentialStoreTest, MissingHelperIsAnErrorNamingIt) {
    write(config_, R"({"credsStore": "kilnabsent"})");
    std::string msg = thrown_by([&] { CredentialStore(config_).lookup("ghcr.io"); });
    EXPECT_NE(msg.find("docker-credential-kilnabsent"), std::string::npos) << msg;
}

TEST_F(CredentialStoreTest, CredHelperForHostWinsOverCredsStore) {
    write(config_, R"({"credsStore": "kilnabsent", "credHelpers": {"ghcr.io": "kilntest"}})");
    helper_has("ghcr.io", "hu", "hs");
    auto c = CredentialStore(config_).lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "hu");
}

TEST_F(CredentialStoreTest, HelperStoreAndEraseGoThroughHelper) {
    const std::string original = R"({"credsStore": "kilntest"})";
    write(config_, original);
    CredentialStore store(config_);
    store.store("ghcr.io", {"su", "ss", ""});
    EXPECT_EQ(read_file(config_), original);  // secrets went to the helper, not the file
    auto c = store.lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "su");
    EXPECT_EQ(c->password, "ss");
    EXPECT_TRUE(store.erase("ghcr.io"));
    EXPECT_EQ(store.lookup("ghcr.io"), std::nullopt);
    EXPECT_FALSE(store.erase("ghcr.io"));
}

TEST_F(CredentialStoreTest, HelperStoresIdentityTokenAsTokenUser) {
    write(config_, R"({"credsStore": "kilntest"})");
    CredentialStore store(config_);
    store.store("ghcr.io", {"", "", "refresh"});
    auto c = store.lookup("ghcr.io");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->identity_token, "refresh");
    EXPECT_EQ(c->password, "");
}

TEST(CredentialKey, DockerHubUsesTheV1Url) {
    EXPECT_EQ(credential_key("docker.io"), "https://index.docker.io/v1/");
    EXPECT_EQ(credential_key("localhost:5000"), "localhost:5000");
}
