#include "bench/latency_summary.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace p2pfaas::bench {

double quantile(const std::vector<double>& sorted, double q) {
  const auto n = sorted.size();
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  return sorted[std::clamp<std::size_t>(rank, 1, n) - 1];
}

latency_summary summarize(std::vector<double> samples) {
  latency_summary out;
  if (samples.empty()) return out;
  std::sort(samples.begin(), samples.end());
  out.count = samples.size();
  out.mean =
      std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  out.p50 = quantile(samples, 0.50);
  out.p95 = quantile(samples, 0.95);
  out.p99 = quantile(samples, 0.99);
  out.max = samples.back();
  return out;
}

std::vector<std::pair<double, double>> cdf_points(std::vector<double> samples, std::size_t points) {
  std::vector<std::pair<double, double>> out;
  if (samples.empty() || points == 0) return out;
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  const std::size_t shown = std::min(points, n);
  for (std::size_t i = 1; i <= shown; ++i) {
    // Ranks spread evenly over 1..n, the last one n (the maximum).
    const std::size_t rank = (i * n + shown - 1) / shown;
    out.emplace_back(samples[rank - 1], static_cast<double>(rank) / static_cast<double>(n));
  }
  return out;
}

}  // namespace p2pfaas::bench
