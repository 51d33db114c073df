#include "bench/results.hpp"

#include <algorithm>

#include "config/numbers.hpp"

namespace p2pfaas::bench {

using json = nlohmann::json;

std::string check_counts(const run_result& run) {
  if (run.ok + run.rejected + run.errors == run.requests) return {};
  return "run " + run.policy + run.profile + "/" + run.workload + ": ok " + std::to_string(run.ok) +
         " + rejected " + std::to_string(run.rejected) + " + errors " + std::to_string(run.errors) +
         " != requests " + std::to_string(run.requests);
}

json report_json(const std::vector<run_result>& runs, const json& scenario) {
  json list = json::array();
  for (const auto& r : runs) {
    list.push_back({{"policy", r.policy},
                    {"profile", r.profile},
                    {"workload", r.workload},
                    {"repetition", r.repetition},
                    {"requests", r.requests},
                    {"ok", r.ok},
                    {"rejected", r.rejected},
                    {"errors", r.errors},
                    {"deadline_met_ratio", r.deadline_met_ratio},
                    {"forwarded_ratio", r.forwarded_ratio},
                    {"throughput_rps", r.throughput_rps},
                    {"goodput_rps", r.goodput_rps},
                    {"duration_seconds", r.duration_seconds},
                    {"latency_ms",
                     {{"p50", r.latency_ms.p50},
                      {"p95", r.latency_ms.p95},
                      {"p99", r.latency_ms.p99},
                      {"mean", r.latency_ms.mean}}},
                    {"cpu_percent", r.cpu_percent},
                    {"rss_mb", r.rss_mb},
                    {"cost", r.cost},
                    {"security_score", r.security_score},
                    {"composite_score", r.composite_score}});
  }
  return {{"runs", std::move(list)}, {"scenario", scenario}};
}

void score_runs(std::vector<run_result>& runs) {
  for (auto& run : runs) {
    double best_p95 = 0, best_cost = 0;
    bool any_cost = false;
    for (const auto& other : runs) {
      if (other.workload != run.workload || other.profile.empty() != run.profile.empty()) continue;
      if (other.latency_ms.p95 > 0 && (best_p95 == 0 || other.latency_ms.p95 < best_p95)) {
        best_p95 = other.latency_ms.p95;
      }
      if (other.cost > 0) {
        best_cost = any_cost ? std::min(best_cost, other.cost) : other.cost;
        any_cost = true;
      }
    }
    double sum = 0, weights = 0;
    sum += 0.5 * (run.latency_ms.p95 > 0 ? best_p95 / run.latency_ms.p95 : 1);
    weights += 0.5;
    if (!run.profile.empty() && any_cost) {
      sum += 0.25 * (run.cost > 0 ? best_cost / run.cost : 1);
      weights += 0.25;
    }
    if (!run.profile.empty()) {
      sum += 0.25 * run.security_score / 10;
      weights += 0.25;
    }
    run.composite_score = 100 * run.deadline_met_ratio * sum / weights;
  }
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string metrics_csv(const std::vector<run_result>& runs) {
  std::string out =
      "policy,profile,workload,repetition,requests,ok,rejected,errors,deadline_met_ratio,"
      "forwarded_ratio,throughput_rps,goodput_rps,duration_seconds,latency_p50_ms,latency_p95_ms,"
      "latency_p99_ms,latency_mean_ms,cpu_percent,"
      "rss_mb,cost,security_score,composite_score\n";
  for (const auto& r : runs) {
    out += csv_field(r.policy) + ',' + csv_field(r.profile) + ',' + csv_field(r.workload) + ',' +
           std::to_string(r.repetition) + ',' + std::to_string(r.requests) + ',' +
           std::to_string(r.ok) + ',' + std::to_string(r.rejected) + ',' + std::to_string(r.errors);
    for (double v : {r.deadline_met_ratio, r.forwarded_ratio, r.throughput_rps, r.goodput_rps,
                     r.duration_seconds, r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99,
                     r.latency_ms.mean, r.cpu_percent, r.rss_mb, r.cost, r.security_score,
                     r.composite_score}) {
      out += ',' + config::shortest_text(v);  // exactly what report.json has
    }
    out += '\n';
  }
  return out;
}

}  // namespace p2pfaas::bench
