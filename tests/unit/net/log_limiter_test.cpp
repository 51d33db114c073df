#include "net/log_limiter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace p2pfaas::net {
namespace {

using namespace std::chrono_literals;

class LogLimiterTest : public ::testing::Test {
 protected:
  log_limiter::clock::time_point now_{};
  log_limiter limiter_{2, 10s, [this] { return now_; }};
};

TEST_F(LogLimiterTest, LetsTheFirstLinesOfAnIntervalThrough) {
  EXPECT_TRUE(limiter_.admit("a"));
  EXPECT_TRUE(limiter_.admit("a"));
  EXPECT_FALSE(limiter_.admit("a"));
  EXPECT_FALSE(limiter_.admit("a"));
}

TEST_F(LogLimiterTest, TheNextLineAfterAQuietSpellCountsWhatWasDropped) {
  limiter_.admit("a");
  limiter_.admit("a");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter_.admit("a"));
  now_ += 9s;
  EXPECT_FALSE(limiter_.admit("a"));  // still the same interval
  now_ += 1s;
  const log_permit permit = limiter_.admit("a");
  EXPECT_TRUE(permit);
  EXPECT_EQ(permit.suppressed, 6u);
  EXPECT_EQ(permit.suffix(), " (6 more suppressed)");
  const log_permit next = limiter_.admit("a");
  EXPECT_TRUE(next);
  EXPECT_EQ(next.suppressed, 0u);
  EXPECT_EQ(next.suffix(), "");
}

TEST_F(LogLimiterTest, KeysAreCountedApart) {
  limiter_.admit("a");
  limiter_.admit("a");
  EXPECT_FALSE(limiter_.admit("a"));
  EXPECT_TRUE(limiter_.admit("b"));
  EXPECT_TRUE(limiter_.admit("b"));
  EXPECT_FALSE(limiter_.admit("b"));
}

TEST_F(LogLimiterTest, ManyKeysStayBounded) {
  for (std::size_t i = 0; i < 4 * log_limiter::max_keys; ++i) {
    EXPECT_TRUE(limiter_.admit("key " + std::to_string(i)));
  }
  // A key forgotten to make room starts afresh, which at worst lets one more line through.
  EXPECT_TRUE(limiter_.admit("key 0"));
}

}  // namespace
}  // namespace p2pfaas::net
