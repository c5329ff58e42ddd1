// What this machine can run, read from a binfmt_misc directory laid out as the
// kernel shows it (a fake one: the real registrations are the host's).
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "sandbox/emulation.h"

namespace fs = std::filesystem;
using kiln::sandbox::native_architecture;
using kiln::sandbox::supported_architectures;
using kiln::sandbox::why_cannot_run;

namespace {

// An architecture this machine does not run natively.
std::string foreign() {
    return native_architecture() == "arm64" ? "amd64" : "arm64";
}
std::string qemu_of(const std::string& arch) {
    return arch == "arm64" ? "aarch64" : "x86_64";
}

class Emulation : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "kiln-binfmt-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
    }
    void mounted() {
        write("status", "enabled\n");
        write("register", "");
    }
    void entry(const std::string& qemu, const std::string& state, const std::string& flags) {
        write("qemu-" + qemu, state + "\ninterpreter /usr/libexec/qemu-binfmt/" + qemu +
                                  "-binfmt-P\nflags: " + flags +
                                  "\noffset 0\nmagic 7f454c46\nmask ffffffff\n");
    }
    fs::path dir_;
};

TEST_F(Emulation, TheNativeArchitectureRunsWithoutAnyRegistration) {
    EXPECT_EQ(why_cannot_run(native_architecture(), dir_ / "absent"), "");
    auto all = supported_architectures(dir_ / "absent");
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all[0].architecture, native_architecture());
    EXPECT_TRUE(all[0].native);
}

TEST_F(Emulation, AnF_FlaggedQemuRegistrationMakesTheArchitectureRunnable) {
    mounted();
    entry(qemu_of(foreign()), "enabled", "POCF");
    EXPECT_EQ(why_cannot_run(foreign(), dir_), "");
    auto all = supported_architectures(dir_);
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.back().architecture, foreign());
    EXPECT_FALSE(all.back().native);
    EXPECT_EQ(all.back().interpreter,
              "/usr/libexec/qemu-binfmt/" + qemu_of(foreign()) + "-binfmt-P");
}

TEST_F(Emulation, WithoutBinfmtMiscTheMessageSaysToMountItAndWhichPackageToInstall) {
    auto why = why_cannot_run(foreign(), dir_ / "absent");
    EXPECT_NE(why.find("natively"), std::string::npos) << why;
    EXPECT_NE(why.find("qemu-user-static"), std::string::npos) << why;
    EXPECT_NE(why.find("mount -t binfmt_misc"), std::string::npos) << why;
    EXPECT_NE(why.find("qemu-" + qemu_of(foreign()) + ".conf"), std::string::npos) << why;
}

TEST_F(Emulation, ARegistrationWithoutTheF_FlagIsNotEnoughInsideTheSandbox) {
    mounted();
    entry(qemu_of(foreign()), "enabled", "OC");
    auto why = why_cannot_run(foreign(), dir_);
    EXPECT_NE(why.find("without the F flag"), std::string::npos) << why;
    EXPECT_EQ(why.find("mount -t"), std::string::npos) << why;
}

TEST_F(Emulation, ADisabledRegistrationDoesNotCount) {
    mounted();
    entry(qemu_of(foreign()), "disabled", "POCF");
    EXPECT_NE(why_cannot_run(foreign(), dir_).find("is disabled"), std::string::npos);
}

TEST_F(Emulation, BinfmtMiscSwitchedOffAsAWholeRunsNothingForeign) {
    mounted();
    write("status", "disabled\n");
    entry(qemu_of(foreign()), "enabled", "POCF");
    EXPECT_NE(why_cannot_run(foreign(), dir_), "");
}

TEST_F(Emulation, AnArchitectureWithNoKnownEmulatorIsNamed) {
    auto why = why_cannot_run("wasm", dir_);
    EXPECT_NE(why.find("no emulator for wasm"), std::string::npos) << why;
}

TEST_F(Emulation, EntriesThatAreNotQemusAreIgnored) {
    mounted();
    write("python3.11", "enabled\ninterpreter /usr/bin/python3.11\nflags: \n");
    auto all = supported_architectures(dir_);
    for (const auto& a : all)
        EXPECT_TRUE(a.native) << a.architecture;
}

}  // namespace
