#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/dashboard.hpp"
#include "bench/http_client.hpp"
#include "bench/load_driver.hpp"
#include "bench/local_cluster.hpp"
#include "bench/results.hpp"
#include "bench/scenario.hpp"

namespace p2pfaas::bench {

struct experiment_options {
  std::vector<endpoint> targets;  // empty = launch a local cluster per run
  std::string admin_token;        // for /configuration on --targets nodes that need one
  std::filesystem::path p2pfaasd;
  std::filesystem::path work_dir;  // the local clusters' data dirs and logs
  // Progress: called with a line to show in place (terminal), or with a finished line.
  std::function<void(const std::string& line, bool finished)> progress;
};

// One run of a scenario: a policy (or CentralJSQ) on a profile (or none) with some workloads.
struct run_plan {
  policy_spec policy;
  std::optional<profile_spec> profile;
  std::vector<std::size_t> workloads;
  int repetition = 0;
  std::string label() const;  // "PowerOfNScheduler [2,1,false,1] / sleep #1"
};

// Every run the scenario asks for, in the order they are run: per repetition and workload group,
// each policy on the scenario's cluster, then each profile (with profile_policy).
std::vector<run_plan> plan_runs(const scenario& value);

// The same open-loop arrivals for every policy of a repetition: each node's process (seeded by
// scenario seed, repetition and node), merged in time order, each call's workload drawn by weight.
// `rates` per node. With `max_measured` > 0, calls after the first that many measured ones
// (sent at or after `warmup`) are dropped.
std::vector<planned_call> plan_calls(const scenario& value, const std::vector<double>& rates,
                                     const std::vector<std::size_t>& workloads, int repetition,
                                     std::size_t max_measured);

// calls.csv's columns: the run (its index in report.json's runs), the workload, the call's
// scheduled send time in seconds from the end of the warm-up, the node it was sent to, the HTTP
// status (0: no answer), latency from the scheduled time, the node that ran it, its hops, whether
// it met its deadline, and why there was no answer.
inline constexpr std::string_view calls_csv_header =
    "run,workload,at_seconds,node,status,latency_ms,executed_on,hops,deadline_met,error\n";

// Runs a scenario: for each run, launches (or reuses) the nodes, applies the profile and the
// policy, sends the load, reads the nodes' /metrics and /monitoring/load, and summarises.
class experiment {
 public:
  experiment(scenario value, experiment_options options);

  boost::asio::awaitable<void> run();
  // Stops the local cluster of the current run, if any (Ctrl-C, errors). Safe to call twice.
  void stop_cluster();

  const std::vector<run_result>& results() const { return results_; }
  const std::vector<run_details>& details() const { return details_; }
  // calls.csv: every measured call of every run, a line each.
  std::string calls_csv() const { return std::string(calls_csv_header) + calls_csv_; }

 private:
  boost::asio::awaitable<void> run_one(const run_plan& plan, std::size_t index, std::size_t total);

  scenario scenario_;
  experiment_options options_;
  std::filesystem::path key_file_;
  std::unique_ptr<local_cluster> cluster_;
  std::vector<nlohmann::json> saved_targets_;  // each --targets node's GET /configuration
  std::vector<run_result> results_;
  std::vector<run_details> details_;
  std::string calls_csv_;
};

// Writes metrics.csv, report.json, dashboard.html and calls.csv into `dir` (made if missing);
// throws, naming the file, if one cannot be written.
void write_outputs(const std::filesystem::path& dir, const std::vector<run_result>& runs,
                   const std::vector<run_details>& details, const nlohmann::json& scenario,
                   const std::string& calls_csv);

// The summary table printed at the end: the median over repetitions of each run's main figures.
std::string summary_table(const std::vector<run_result>& runs);

}  // namespace p2pfaas::bench
