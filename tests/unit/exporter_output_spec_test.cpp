// `-o` / `--output` specs (exporter/output_spec.h) in buildx form.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "base/error.h"
#include "exporter/compression.h"
#include "exporter/output_spec.h"

namespace kiln::exporter {
namespace {

using Attrs = std::map<std::string, std::string>;

TEST(OutputSpec, Oci) {
    OutputSpec s = parse_output_spec("type=oci,dest=out.tar");
    EXPECT_EQ(s.type, "oci");
    EXPECT_EQ(s.attrs, (Attrs{{"dest", "out.tar"}}));
    EXPECT_EQ(s.get("dest"), "out.tar");
}

TEST(OutputSpec, Docker) {
    OutputSpec s = parse_output_spec("type=docker,dest=img.tar");
    EXPECT_EQ(s.type, "docker");
    EXPECT_EQ(s.get("dest"), "img.tar");
}

TEST(OutputSpec, Local) {
    OutputSpec s = parse_output_spec("type=local,dest=out/dir");
    EXPECT_EQ(s.type, "local");
    EXPECT_EQ(s.get("dest"), "out/dir");
}

TEST(OutputSpec, DashIsATarOnStdout) {
    for (const char* text : {"-", "type=tar,dest=-", "type=local,dest=-"}) {
        OutputSpec s = parse_output_spec(text);
        EXPECT_EQ(s.type, "tar") << text;
        EXPECT_TRUE(to_stdout(s)) << text;
    }
    OutputSpec file = parse_output_spec("type=tar,dest=rootfs.tar");
    EXPECT_EQ(file.type, "tar");
    EXPECT_FALSE(to_stdout(file));
    EXPECT_TRUE(to_stdout(parse_output_spec("type=oci,dest=-")));
}

TEST(OutputSpec, ImageNeedsNoDest) {
    OutputSpec s = parse_output_spec("type=image");
    EXPECT_EQ(s.type, "image");
    EXPECT_TRUE(s.attrs.empty());
}

TEST(OutputSpec, ImageKeepsOtherAttributes) {
    OutputSpec s = parse_output_spec("type=image,name=example/app:1");
    EXPECT_EQ(s.get("name"), "example/app:1");
}

TEST(OutputSpec, TypeNeedNotComeFirst) {
    OutputSpec s = parse_output_spec("dest=out.tar,type=oci");
    EXPECT_EQ(s.type, "oci");
    EXPECT_EQ(s.get("dest"), "out.tar");
}

TEST(OutputSpec, BarePathIsLocal) {
    OutputSpec s = parse_output_spec("./out");
    EXPECT_EQ(s.type, "local");
    EXPECT_EQ(s.attrs, (Attrs{{"dest", "./out"}}));
}

TEST(OutputSpec, ValueMayContainEquals) {
    OutputSpec s = parse_output_spec("type=local,dest=a=b");
    EXPECT_EQ(s.get("dest"), "a=b");
}

TEST(OutputSpec, GetFallback) {
    OutputSpec s = parse_output_spec("type=oci,dest=x");
    EXPECT_EQ(s.get("name"), "");
    EXPECT_EQ(s.get("name", "dflt"), "dflt");
}

TEST(OutputSpec, EmptyThrows) {
    EXPECT_THROW(parse_output_spec(""), kiln::Error);
}

TEST(OutputSpec, MissingDestThrows) {
    EXPECT_THROW(parse_output_spec("type=oci"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=docker"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=local"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=local,dest="), kiln::Error);
}

TEST(OutputSpec, MissingTypeThrows) {
    EXPECT_THROW(parse_output_spec("dest=out.tar"), kiln::Error);
}

TEST(OutputSpec, UnknownTypeThrows) {
    try {
        parse_output_spec("type=bogus,dest=x");
        FAIL() << "no error";
    } catch (const kiln::Error& e) {
        EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
    }
}

TEST(OutputSpec, RegistryNeedsNoDest) {
    OutputSpec s = parse_output_spec("type=registry,name=localhost:5000/app,push-by-digest=true");
    EXPECT_EQ(s.type, "registry");
    EXPECT_EQ(s.get("name"), "localhost:5000/app");
    EXPECT_EQ(s.get("push-by-digest"), "true");
}

TEST(OutputSpec, PushFlagsMustBeBooleans) {
    EXPECT_THROW(parse_output_spec("type=image,push=yes"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=registry,push-by-digest=1"), kiln::Error);
    EXPECT_EQ(parse_output_spec("type=image,name=a,push=true").get("push"), "true");
}

TEST(OutputSpec, FieldWithoutEqualsThrows) {
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,push"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=oci,=x,dest=y"), kiln::Error);
}

TEST(OutputSpec, CompressionDefaultsToFallback) {
    OutputSpec s = parse_output_spec("type=oci,dest=x");
    CompressionOptions c = s.compression(Compression::gzip);
    EXPECT_EQ(c.kind, Compression::gzip);
    EXPECT_EQ(c.level, -1);
    EXPECT_EQ(s.compression(Compression::none).kind, Compression::none);
}

TEST(OutputSpec, CompressionZstdWithLevel) {
    OutputSpec s = parse_output_spec("type=oci,dest=x,compression=zstd,compression-level=19");
    CompressionOptions c = s.compression(Compression::gzip);
    EXPECT_EQ(c.kind, Compression::zstd);
    EXPECT_EQ(c.level, 19);
}

TEST(OutputSpec, CompressionGzipLevel) {
    OutputSpec s = parse_output_spec("type=docker,dest=x,compression=gzip,compression-level=9");
    EXPECT_EQ(s.compression(Compression::none).kind, Compression::gzip);
    EXPECT_EQ(s.compression(Compression::none).level, 9);
}

TEST(OutputSpec, CompressionUncompressed) {
    OutputSpec s = parse_output_spec("type=oci,dest=x,compression=uncompressed");
    EXPECT_EQ(s.compression(Compression::gzip).kind, Compression::none);
}

TEST(OutputSpec, UnknownCompressionThrows) {
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression=lz4"), kiln::Error);
}

TEST(OutputSpec, LevelOutOfRangeThrows) {
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression=gzip,compression-level=10"),
                 kiln::Error);
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression=zstd,compression-level=23"),
                 kiln::Error);
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression-level=-1"), kiln::Error);
}

TEST(OutputSpec, LevelRangeFollowsTheChosenCompression) {
    // 15 is too high for gzip (the fallback) but fine for zstd.
    EXPECT_NO_THROW(parse_output_spec("type=oci,dest=x,compression=zstd,compression-level=15"));
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression-level=15"), kiln::Error);
}

TEST(OutputSpec, NonNumericLevelThrows) {
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression-level=fast"), kiln::Error);
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,compression-level=3x"), kiln::Error);
}

TEST(OutputSpec, OciMediaTypesDefaultTrue) {
    EXPECT_TRUE(parse_output_spec("type=oci,dest=x").oci_media_types());
}

TEST(OutputSpec, OciMediaTypesFalse) {
    EXPECT_FALSE(parse_output_spec("type=docker,dest=x,oci-mediatypes=false").oci_media_types());
    EXPECT_TRUE(parse_output_spec("type=docker,dest=x,oci-mediatypes=true").oci_media_types());
}

TEST(OutputSpec, OciMediaTypesBadValueThrows) {
    EXPECT_THROW(parse_output_spec("type=oci,dest=x,oci-mediatypes=maybe"), kiln::Error);
}

}  // namespace
}  // namespace kiln::exporter
