// base/edit_distance.h: Levenshtein distance over bytes (insert, delete, substitute cost 1).
#include <gtest/gtest.h>

#include "base/edit_distance.h"

namespace kiln {
namespace {

TEST(EditDistance, EqualStringsAreZero) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("workdir", "workdir"), 0u);
}

TEST(EditDistance, AgainstEmptyIsTheLength) {
    EXPECT_EQ(edit_distance("", "copy"), 4u);
    EXPECT_EQ(edit_distance("copy", ""), 4u);
}

TEST(EditDistance, SingleEdits) {
    EXPECT_EQ(edit_distance("run", "runn"), 1u);    // insertion
    EXPECT_EQ(edit_distance("copyy", "copy"), 1u);  // deletion
    EXPECT_EQ(edit_distance("cmd", "cnd"), 1u);     // substitution
}

TEST(EditDistance, ClassicExamples) {
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
    // A transposition is two edits (no Damerau step).
    EXPECT_EQ(edit_distance("form", "from"), 2u);
    EXPECT_EQ(edit_distance("abc", "xyz"), 3u);
}

TEST(EditDistance, IsSymmetric) {
    EXPECT_EQ(edit_distance("entrypoint", "entrypont"), edit_distance("entrypont", "entrypoint"));
    EXPECT_EQ(edit_distance("TARGETARCH", "TARGETARH"), 1u);
    EXPECT_EQ(edit_distance("TARGETARH", "TARGETARCH"), 1u);
}

TEST(EditDistance, CountsBytesNotCharacters) {
    // "é" is two bytes in UTF-8: both differ from "e"'s one byte.
    EXPECT_EQ(edit_distance("caf\xc3\xa9", "cafe"), 2u);
}

}  // namespace
}  // namespace kiln
