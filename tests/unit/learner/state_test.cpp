#include "learner/state.hpp"

#include <gtest/gtest.h>

namespace p2pfaas::learner {
namespace {

TEST(State, PrintsAsTheNodeEmitsItAndParsesBack) {
  const state s{3, 2, 5};
  EXPECT_EQ(to_string(s), "3,2,5");
  EXPECT_EQ(parse_state("3,2,5", 6, 6), s);
  EXPECT_EQ(parse_state("1023,0,0", 1, 1), (state{1023, 0, 0}));
}

TEST(State, AcceptsOnlyTheFormTheNodeEmitsWithinTheBuckets) {
  for (const char* bad : {"", "1,2", "1,2,3,4", " 1,2,3", "1, 2,3", "01,2,3", "-1,2,3", "1.0,2,3",
                          "1,2,3 ", "a,b,c", "1,,3", "1024,0,0", "0,6,0", "0,0,6"}) {
    EXPECT_FALSE(parse_state(bad, 6, 6)) << bad;
  }
}

TEST(State, ActionsAreNumberedAsInP2pfaas) {
  EXPECT_EQ(parse_action("0"), action::reject);
  EXPECT_EQ(parse_action("1"), action::run_here);
  EXPECT_EQ(parse_action("2"), action::probe_one);
  EXPECT_EQ(parse_action("3.000000"), action::forward_least_loaded);  // P2PFaaS's %f
  for (const char* bad : {"", "4", "-1", "1.5", "x", "nan", "inf", "1 "}) {
    EXPECT_FALSE(parse_action(bad)) << bad;
  }
  EXPECT_EQ(to_string(action::forward_least_loaded), "forward");
}

TEST(State, EidsAndRewardsAreStrictNumbers) {
  EXPECT_EQ(parse_eid("42"), 42U);
  EXPECT_FALSE(parse_eid("-1"));
  EXPECT_FALSE(parse_eid("4.2"));
  EXPECT_FALSE(parse_eid(""));
  EXPECT_EQ(parse_number("-0.5"), -0.5);
  EXPECT_FALSE(parse_number("inf"));
  EXPECT_FALSE(parse_number("1e999"));
  EXPECT_FALSE(parse_number("1x"));
}

TEST(State, BucketCountsTheBoundariesAtOrBelowTheValue) {
  const std::vector<double> boundaries{0.5, 1};
  EXPECT_EQ(bucket_of(0, boundaries), 0);
  EXPECT_EQ(bucket_of(0.49, boundaries), 0);
  EXPECT_EQ(bucket_of(0.5, boundaries), 1);
  EXPECT_EQ(bucket_of(0.99, boundaries), 1);
  EXPECT_EQ(bucket_of(1, boundaries), 2);
  EXPECT_EQ(bucket_of(50, boundaries), 2);
}

}  // namespace
}  // namespace p2pfaas::learner
