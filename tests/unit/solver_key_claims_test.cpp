// KeyClaims: one holder per key; a second claim waits for the first and says so.
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "solver/key_claims.h"

using kiln::content::Digest;
using kiln::solver::KeyClaims;

namespace {

Digest key(const char* text) {
    return Digest::of(std::string(text));
}

TEST(KeyClaims, TheFirstClaimOfAKeyDoesNotWait) {
    KeyClaims claims;
    auto a = claims.claim(key("a"));
    EXPECT_FALSE(a.waited());
    auto b = claims.claim(key("b"));  // another key: no wait
    EXPECT_FALSE(b.waited());
}

TEST(KeyClaims, ASecondClaimWaitsUntilTheFirstIsReleased) {
    KeyClaims claims;
    std::atomic<bool> released{false};
    std::atomic<bool> second_waited{false};
    std::atomic<bool> second_saw_release{false};
    std::thread second;
    {
        auto first = claims.claim(key("k"));
        second = std::thread([&] {
            auto c = claims.claim(key("k"));
            second_waited = c.waited();
            second_saw_release = released.load();
        });
        // The second thread is blocked while this claim lives; give it time to get there.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        released = true;
    }
    second.join();
    EXPECT_TRUE(second_waited);
    EXPECT_TRUE(second_saw_release);
}

TEST(KeyClaims, AReleasedKeyCanBeClaimedAgainWithoutWaiting) {
    KeyClaims claims;
    { auto c = claims.claim(key("k")); }
    EXPECT_FALSE(claims.claim(key("k")).waited());
}

TEST(KeyClaims, AMovedClaimIsReleasedOnceByItsNewHolder) {
    KeyClaims claims;
    {
        auto c = claims.claim(key("k"));
        auto moved = std::move(c);
    }
    EXPECT_FALSE(claims.claim(key("k")).waited());
}

}  // namespace
