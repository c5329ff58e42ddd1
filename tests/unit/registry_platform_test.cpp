// Platform strings as users write them (--platform) and the choice of an
// index entry for one.
#include <gtest/gtest.h>

#include "base/error.h"
#include "registry/platform.h"

namespace kiln::registry {
namespace {

TEST(RegistryPlatform, ParsesOsAndArchitecture) {
    auto p = parse_platform("linux/amd64");
    EXPECT_EQ(p.os, "linux");
    EXPECT_EQ(p.architecture, "amd64");
    EXPECT_EQ(p.variant, "");
    EXPECT_EQ(p.str(), "linux/amd64");
}

TEST(RegistryPlatform, ParsesVariant) {
    auto p = parse_platform("linux/arm/v6");
    EXPECT_EQ(p.architecture, "arm");
    EXPECT_EQ(p.variant, "v6");
    EXPECT_EQ(p.str(), "linux/arm/v6");
}

TEST(RegistryPlatform, Arm64GetsDefaultVariantV8) {
    EXPECT_EQ(parse_platform("linux/arm64").str(), "linux/arm64/v8");
}

TEST(RegistryPlatform, ArmGetsDefaultVariantV7) {
    EXPECT_EQ(parse_platform("linux/arm").str(), "linux/arm/v7");
}

TEST(RegistryPlatform, BuildKitsFormLeavesOutOnlyArm64sDefaultVariant) {
    EXPECT_EQ(buildkit_form(parse_platform("linux/arm64")).str(), "linux/arm64");
    EXPECT_EQ(buildkit_form(parse_platform("linux/aarch64/v8")).str(), "linux/arm64");
    EXPECT_EQ(buildkit_form(parse_platform("linux/arm64/v9")).str(), "linux/arm64/v9");
    EXPECT_EQ(buildkit_form(parse_platform("linux/arm")).str(), "linux/arm/v7");
    EXPECT_EQ(buildkit_form(parse_platform("linux/amd64")).str(), "linux/amd64");
}

TEST(RegistryPlatform, KernelArchitectureNamesNormalised) {
    EXPECT_EQ(parse_platform("linux/aarch64").str(), "linux/arm64/v8");
    EXPECT_EQ(parse_platform("linux/x86_64").str(), "linux/amd64");
}

void expect_invalid(const std::string& text) {
    try {
        parse_platform(text);
        ADD_FAILURE() << "accepted \"" << text << "\"";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("\"" + text + "\""), std::string::npos) << e.what();
    }
}

TEST(RegistryPlatform, MissingArchitectureRejectedNamingText) {
    expect_invalid("linux");
}
TEST(RegistryPlatform, EmptyArchitectureRejected) {
    expect_invalid("linux/");
}
TEST(RegistryPlatform, EmptyOsRejected) {
    expect_invalid("/amd64");
}
TEST(RegistryPlatform, EmptyVariantRejected) {
    expect_invalid("linux/arm64/");
}
TEST(RegistryPlatform, TooManyPartsRejected) {
    expect_invalid("linux/arm/v7/extra");
}

TEST(RegistryPlatform, EntryWithoutVariantMatchesArm64V8) {
    content::Platform entry{"arm64", "linux", ""};
    EXPECT_TRUE(platform_matches(entry, parse_platform("linux/arm64/v8")));
    EXPECT_TRUE(platform_matches(entry, parse_platform("linux/arm64")));
}

TEST(RegistryPlatform, EntryWithV8MatchesPlainArm64Request) {
    EXPECT_TRUE(platform_matches({"arm64", "linux", "v8"}, parse_platform("linux/arm64")));
}

TEST(RegistryPlatform, VariantMismatch) {
    EXPECT_FALSE(platform_matches({"arm", "linux", "v6"}, parse_platform("linux/arm/v7")));
    EXPECT_FALSE(platform_matches({"arm", "linux", ""}, parse_platform("linux/arm/v6")));
}

TEST(RegistryPlatform, OsMismatch) {
    EXPECT_FALSE(platform_matches({"amd64", "windows", ""}, parse_platform("linux/amd64")));
}

TEST(RegistryPlatform, ArchitectureMismatch) {
    EXPECT_FALSE(platform_matches({"amd64", "linux", ""}, parse_platform("linux/arm64")));
}

TEST(RegistryPlatform, HostIsLinuxAmd64OnX86_64) {
#if defined(__x86_64__)
    EXPECT_EQ(host_platform().str(), "linux/amd64");
    EXPECT_TRUE(platform_matches({"amd64", "linux", ""}, host_platform()));
#else
    GTEST_SKIP() << "not an x86-64 machine";
#endif
}

}  // namespace
}  // namespace kiln::registry
