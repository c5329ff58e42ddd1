// base/utf8.h's prefix_length: text cut to a width never ends inside a character.
#include <gtest/gtest.h>

#include <string>

#include "base/utf8.h"

namespace kiln::utf8 {
namespace {

TEST(Utf8PrefixLength, ShortTextIsWhole) {
    EXPECT_EQ(prefix_length("abc", 3), 3u);
    EXPECT_EQ(prefix_length("abc", 10), 3u);
    EXPECT_EQ(prefix_length("", 0), 0u);
}

TEST(Utf8PrefixLength, AsciiIsCutAtTheWidth) {
    EXPECT_EQ(prefix_length("abcdef", 4), 4u);
}

TEST(Utf8PrefixLength, AMultiByteCharacterAcrossTheCutIsLeftOut) {
    const std::string s = "ab\xc3\xa9z";                   // "abéz": é is 2 bytes at 2..3
    EXPECT_EQ(prefix_length(s, 3), 2u);                    // would end inside é
    EXPECT_EQ(prefix_length(s, 4), 4u);                    // é whole
    EXPECT_EQ(prefix_length("\xf0\x9f\x98\x80x", 3), 0u);  // a 4-byte emoji
}

}  // namespace
}  // namespace kiln::utf8
