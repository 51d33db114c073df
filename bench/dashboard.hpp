#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bench/results.hpp"

namespace p2pfaas::bench {

// What the dashboard draws beyond report.json's fields, one per run (same order as the runs).
struct run_details {
  // (latency ms, share of calls at or below it), from cdf_points().
  std::vector<std::pair<double, double>> latency_cdf;
  // Each node's load (in-flight + queued calls, per slot) sampled every
  // `load_interval_seconds` from the start of the measured window; node_load[i] is nodes[i]'s.
  std::vector<std::string> nodes;
  double load_interval_seconds = 0.25;
  std::vector<std::vector<double>> node_load;
};

// dashboard.html: one self-contained page that renders offline (the chart library is inlined, no
// request leaves the file). Charts: composite score per profile (bar), latency vs security score
// (scatter), deadline-met ratio and goodput per policy (bars), latency CDF per policy (lines),
// per-node load over time (lines, one chart per run), and a table of every run. Charts with no
// data (no profiles in the scenario) are left out with a line saying why.
std::string dashboard_html(const std::vector<run_result>& runs,
                           const std::vector<run_details>& details, const nlohmann::json& scenario);

}  // namespace p2pfaas::bench
