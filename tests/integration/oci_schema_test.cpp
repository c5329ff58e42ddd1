// Every OCI document kiln writes validates against the image-spec's JSON
// Schemas (testdata/conformance/oci-image-spec), checked by python3-jsonschema.
#include <gtest/gtest.h>

#include "harness.h"

namespace fs = std::filesystem;
using namespace kiln::test;

namespace {
Result validate(const fs::path& layout) {
    return run({"/usr/bin/python3", KILN_OCI_VALIDATOR,
                std::string(KILN_TESTDATA_DIR) + "/conformance/oci-image-spec/schema",
                layout.string()});
}
}  // namespace

TEST(OciSchema, OutputsAndStoreValidate) {
    Scratch dir;
    write(dir / "ctx/Dockerfile",
          "FROM scratch\nLABEL a=b\nCOPY f /f\nEXPOSE 80\nVOLUME /v\nHEALTHCHECK --interval=5s CMD "
          "[\"/f\"]\nCMD [\"/f\"]\n");
    write(dir / "ctx/f", "f", 0755);
    auto r = run_kiln(dir / "root",
                      {"build", "-t", "schema:ok", "-o", "type=oci,dest=" + (dir / "gz").string(),
                       "-o", "type=oci,dest=" + (dir / "zst").string() + ",compression=zstd", "-o",
                       "type=image", (dir / "ctx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* layout : {"gz", "zst", "root"}) {
        auto v = validate(dir / layout);
        EXPECT_EQ(v.exit_code, 0) << layout << ":\n" << v.out << v.err;
        EXPECT_NE(v.out.find("valid: 4 documents"), std::string::npos) << layout << ": " << v.out;
    }
}

TEST(OciSchema, ValidatorRejectsABrokenIndex) {
    // The check above can fail: a layout with a wrong schemaVersion does not pass.
    Scratch dir;
    write(dir / "l/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    write(dir / "l/index.json", R"({"schemaVersion":3,"manifests":[]})");
    auto v = validate(dir / "l");
    EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
}
