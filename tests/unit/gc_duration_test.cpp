// gc/duration.h: --filter until= durations as buildx reads them.
#include <gtest/gtest.h>

#include "base/error.h"
#include "gc/duration.h"

namespace kiln::gc {
namespace {

constexpr std::int64_t kSecond = 1000000000;

TEST(GcDuration, ReadsGoDurations) {
    EXPECT_EQ(parse_duration("24h"), 24 * 3600 * kSecond);
    EXPECT_EQ(parse_duration("2h30m"), 9000 * kSecond);
    EXPECT_EQ(parse_duration("1.5h"), 5400 * kSecond);
    EXPECT_EQ(parse_duration("90s"), 90 * kSecond);
    EXPECT_EQ(parse_duration("500ms"), kSecond / 2);
    EXPECT_EQ(parse_duration("0"), 0);
}

TEST(GcDuration, ReadsDays) {
    EXPECT_EQ(parse_duration("2d"), 2 * 86400 * kSecond);
}

TEST(GcDuration, RefusesWhatIsNotADurationSayingWhy) {
    for (const char* bad : {"", "24", "h", "24x", "-1h", "1e9999h"}) {
        try {
            parse_duration(bad);
            ADD_FAILURE() << "accepted \"" << bad << "\"";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("invalid duration"), std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace kiln::gc
