#include "bench/latency_summary.hpp"

#include <gtest/gtest.h>

namespace p2pfaas::bench {
namespace {

TEST(LatencySummary, NearestRankPercentilesAreSamples) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // 1..100, unsorted
  const latency_summary s = summarize(samples);
  EXPECT_EQ(s.count, 100U);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p95, 95);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.max, 100);
}

TEST(LatencySummary, SmallAndEmptySets) {
  EXPECT_EQ(summarize({}).count, 0U);
  EXPECT_EQ(summarize({}).p99, 0);
  const latency_summary one = summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p99, 7);
  // 3 samples: p50 is the 2nd (ceil(1.5)), p95 and p99 the 3rd.
  const latency_summary three = summarize({3, 1, 2});
  EXPECT_EQ(three.p50, 2);
  EXPECT_EQ(three.p95, 3);
}

TEST(LatencySummary, CdfPointsSpreadByRankAndEndAtTheMaximum) {
  std::vector<double> samples;
  for (int i = 1; i <= 1000; ++i) samples.push_back(i);
  const auto points = cdf_points(samples, 4);
  ASSERT_EQ(points.size(), 4U);
  EXPECT_EQ(points[0], (std::pair<double, double>{250, 0.25}));
  EXPECT_EQ(points[3], (std::pair<double, double>{1000, 1.0}));
  EXPECT_EQ(cdf_points({5, 1}, 10).size(), 2U);  // never more points than samples
  EXPECT_TRUE(cdf_points({}, 10).empty());
}

}  // namespace
}  // namespace p2pfaas::bench
