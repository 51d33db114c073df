#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace p2pfaas::bench {

struct latency_summary {
  std::size_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  double max = 0;
};

// The q-quantile (0 < q <= 1) by nearest rank: the smallest sample that at least q of the
// samples are at or below. Always one of the samples, so a p99 is a latency a call really had.
// `sorted` ascending and not empty.
double quantile(const std::vector<double>& sorted, double q);

// Summary of any samples (sorted here); all zero for none.
latency_summary summarize(std::vector<double> samples);

// The empirical CDF at no more than `points` samples, evenly spaced by rank, ending at the
// maximum: (latency, share of calls at or below it) pairs for a chart.
std::vector<std::pair<double, double>> cdf_points(std::vector<double> samples, std::size_t points);

}  // namespace p2pfaas::bench
