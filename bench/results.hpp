#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/latency_summary.hpp"

namespace p2pfaas::bench {

// One run of a scenario: one policy (or the central baseline) or one platform profile, on one
// workload. The fields of report.json (API.md), plus errors.
struct run_result {
  std::string policy;
  std::string profile;
  std::string workload;
  int repetition = 0;  // 0, 1, ... when the scenario repeats each run
  std::size_t requests = 0;
  std::size_t ok = 0;        // answered 200
  std::size_t rejected = 0;  // 429 or 503: refused without running
  std::size_t errors = 0;    // anything else: other statuses, timeouts, connection failures
  double deadline_met_ratio = 0;
  double forwarded_ratio = 0;
  double throughput_rps = 0;    // ok per second
  double goodput_rps = 0;       // calls answered 200 within their deadline, per second
  double duration_seconds = 0;  // the measured window: first scheduled send to last answer
  latency_summary latency_ms;
  double cpu_percent = 0;
  double rss_mb = 0;
  double cost = 0;
  double security_score = 0;
  double composite_score = 0;
};

// Every call counted once: ok + rejected + errors = requests. "" or what does not add up.
std::string check_counts(const run_result& run);

// report.json: {"runs":[...], "scenario": scenario}.
nlohmann::json report_json(const std::vector<run_result>& runs, const nlohmann::json& scenario);

// metrics.csv: a header line, then one line per run, the same fields flattened (latency_p50_ms...),
// RFC 4180 quoting where a field needs it.
std::string metrics_csv(const std::vector<run_result>& runs);

// Fills in composite_score, 0..100, comparing runs of the same workload with each other
// (profile runs apart from policy runs):
//   composite = 100 * deadline_met_ratio * (0.5 L + 0.25 C + 0.25 S) / (sum of the weights used)
// L = the lowest p95 latency of the group / this run's p95 (1 when it has none);
// C = the lowest cost of the group / this run's cost, only when the group has a cost model;
// S = security_score / 10, only for profile runs. A term without data is left out and the
// weights of the others renormalised, so policy runs score on deadline-met and latency alone.
void score_runs(std::vector<run_result>& runs);

// One CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

}  // namespace p2pfaas::bench
