#include "bench/arrivals.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace p2pfaas::bench {
namespace {

struct moments {
  double mean = 0;
  double variance = 0;
};

// Of the gaps between the first n arrivals.
moments gaps(arrival_process& arrivals, int n) {
  std::vector<double> g;
  double last = 0;
  for (int i = 0; i < n; ++i) {
    const double t = arrivals.next();
    g.push_back(t - last);
    last = t;
  }
  moments m;
  for (double x : g) m.mean += x / n;
  for (double x : g) m.variance += (x - m.mean) * (x - m.mean) / (n - 1);
  return m;
}

TEST(Arrivals, PoissonGapsHaveTheExponentialsMeanAndVariance) {
  auto arrivals = poisson_arrivals(200, 7);
  const moments m = gaps(*arrivals, 200000);
  // Exponential(200): mean 1/200, variance 1/200^2. With 200,000 gaps the sample mean is within
  // 1% (about 4.5 standard errors) and the variance within 3%.
  EXPECT_NEAR(m.mean, 1.0 / 200, 0.01 / 200);
  EXPECT_NEAR(m.variance, 1.0 / (200.0 * 200), 0.03 / (200.0 * 200));
}

TEST(Arrivals, TheSameSeedGivesTheSameTimes) {
  auto a = poisson_arrivals(50, 11);
  auto b = poisson_arrivals(50, 11);
  auto c = poisson_arrivals(50, 12);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const double t = a->next();
    EXPECT_EQ(t, b->next());
    differs = differs || t != c->next();
  }
  EXPECT_TRUE(differs);
}

TEST(Arrivals, ConstantIsExactAndDoesNotDrift) {
  auto arrivals = constant_arrivals(3);
  EXPECT_DOUBLE_EQ(arrivals->next(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(arrivals->next(), 2.0 / 3);
  for (int i = 3; i < 300000; ++i) arrivals->next();
  EXPECT_DOUBLE_EQ(arrivals->next(), 100000.0);
  const moments m = gaps(*constant_arrivals(40), 1000);
  EXPECT_NEAR(m.mean, 0.025, 1e-12);
  EXPECT_NEAR(m.variance, 0, 1e-12);
}

TEST(Arrivals, ATraceFollowsItsRatesStepByStep) {
  // 100/s for 10 s, nothing for 10 s, then 400/s.
  auto arrivals = trace_arrivals({{0, 100}, {10, 0}, {20, 400}}, 3);
  int first = 0, quiet = 0, last = 0;
  for (double t = arrivals->next(); t < 30; t = arrivals->next()) {
    (t < 10 ? first : t < 20 ? quiet : last)++;
  }
  EXPECT_NEAR(first, 1000, 100);  // Poisson(1000): sd 32
  EXPECT_EQ(quiet, 0);
  EXPECT_NEAR(last, 4000, 200);  // Poisson(4000): sd 63
}

TEST(Arrivals, ATraceEndingAtRateZeroStops) {
  auto arrivals = trace_arrivals({{0, 1000}, {1, 0}}, 4);
  double t = 0;
  int n = 0;
  while (std::isfinite(t = arrivals->next())) {
    EXPECT_LT(t, 1);
    ++n;
  }
  EXPECT_NEAR(n, 1000, 130);
  EXPECT_TRUE(std::isinf(arrivals->next()));
}

TEST(RateTrace, ParsesSecondsAndRatesWithAHeaderAndComments) {
  trace_result r =
      parse_rate_trace("seconds,rate\n# a quiet night\n0, 5\n60,50\r\n\n120,0\n", "t.csv");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.steps, (std::vector<rate_step>{{0, 5}, {60, 50}, {120, 0}}));
}

TEST(RateTrace, NamesTheLineOfEachProblem) {
  EXPECT_EQ(parse_rate_trace("0,5\n10,x\n", "t.csv").error,
            "t.csv:2: must be two numbers \"seconds,rate\" (got \"10,x\")");
  EXPECT_EQ(parse_rate_trace("0,5\n10,-1\n", "t.csv").error, "t.csv:2: the rate must be >= 0");
  EXPECT_EQ(parse_rate_trace("0,5\n10,1\n10,2\n", "t.csv").error, "t.csv:3: times must increase");
  EXPECT_EQ(parse_rate_trace("5,5\n", "t.csv").error, "t.csv:1: the first step must be at 0 s");
  EXPECT_EQ(parse_rate_trace("0,5\n7\n", "t.csv").error,
            "t.csv:2: must be \"seconds,rate\" (got \"7\")");
  EXPECT_EQ(parse_rate_trace("seconds,rate\n", "t.csv").error, "t.csv:1: no \"seconds,rate\" line");
}

}  // namespace
}  // namespace p2pfaas::bench
