#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/arrivals.hpp"
#include "config/config.hpp"

namespace p2pfaas::bench {

// A scenario file (bench/scenarios/*.yaml) says what to launch, what load to send and which
// policies and/or platform profiles to compare. Every field has a default except the workloads
// and the policies-or-profiles; an unknown key is an error (a typo must not silently change an
// experiment).

// The local cluster p2pfaas-bench launches when no --targets are given.
struct cluster_spec {
  int nodes = 3;
  int slots = 2;
  int queue = 16;
  // "generate": a fresh random key in the run's temp dir; "none": no key, so nodes run alone
  // (no forwarding); anything else: the path of a key file (relative to the scenario file).
  std::string key = "generate";
  std::uint64_t seed = 1;  // node i gets executor.seed = seed + i (sleep's exponential draws)
  // Extra dotted config keys for every node, as p2pfaasd's --set (e.g. "log.level": "warn").
  std::map<std::string, std::string> settings;
};

// One function of the mix.
struct workload_spec {
  std::string name;      // as shown in results; defaults to the function name
  std::string function;  // sleep, compute, io, memory, echo, verify or a user function
  // Sent as the query string (values already strings; URL-encoded when sent).
  std::map<std::string, std::string> parameters;
  double weight = 1;            // share of the calls: weight / sum of weights
  double deadline_seconds = 0;  // 0 = none; sent as X-P2pfaas-Deadline-Seconds
};

enum class arrival_kind { poisson, constant, trace };

struct load_spec {
  arrival_kind arrivals = arrival_kind::poisson;
  // Calls per second offered to each node, in node order; one value = the same for every node.
  // With a trace, each node's rates are the trace's rates times its entry here.
  std::vector<double> rates = {10};
  std::filesystem::path trace;  // arrivals: trace, a "seconds,rate" CSV (relative to the scenario)
  std::vector<rate_step> trace_steps;  // read from `trace` by read_scenario
  // Closed loop instead: this many clients per node, each sending its next call when its previous
  // one is answered. 0 = open loop (the default).
  int closed_loop_clients = 0;
  // Stop each run after this many measured calls in all (0 = only duration_seconds limits it).
  std::size_t requests = 0;
  double timeout_seconds = 10;  // a call not answered by then is an error
};

// A scheduling policy as /configuration/scheduler takes it, or "CentralJSQ": nodes on
// NoScheduler ["false"] and the bench sends each call to the node with the fewest calls it has
// outstanding.
struct policy_spec {
  std::string name;
  std::vector<std::string> parameters;
};

// A platform model (bench/profiles/*.yaml): node knobs p2pfaasd has, a cost model and a security
// score. `sources` says where each number comes from; `emulated` lists the knobs that emulate a
// platform rather than measure one.
struct profile_spec {
  std::string name;  // "FaaSLight Original"
  std::string description;
  int slots = 2;
  int queue = 16;
  int memory_limit_mb = 512;
  double per_call_overhead_ms = 0;
  double cold_start_ms = 0;
  double keep_alive_seconds = 60;
  int replicas = 1;                // how many nodes serve
  double price_per_gb_second = 0;  // USD
  double price_per_request = 0;    // USD
  double security_score = 0;       // 0..10 by the rubric in bench/profiles/README.md
  std::map<std::string, std::string> security_rubric;  // criterion -> points and why
  std::map<std::string, std::string> sources;          // field -> where the number comes from
  std::vector<std::string> emulated;                   // fields whose values are emulated
  std::filesystem::path file;                          // where it was read from
};

// How the workloads of the mix become runs.
enum class workload_runs {
  together,  // one run per policy/profile with the weighted mix (workload = names joined by "+")
  each,      // one run per workload, alone (profiles are compared on compute, io, memory apart)
};

struct scenario {
  std::string name;  // defaults to the file's stem
  std::string description;
  cluster_spec cluster;
  std::vector<workload_spec> workloads;
  workload_runs runs = workload_runs::together;
  load_spec load;
  double duration_seconds = 10;  // measured part of each run
  double warmup_seconds = 2;     // sent before, not counted (lets a learner learn, instances warm)
  int repetitions = 1;
  std::uint64_t seed = 1;  // arrivals and workload choice; repetition r uses seed + r
  std::vector<policy_spec> policies;
  // Profiles to compare, read from the files listed under `profiles:` (paths relative to the
  // scenario file). Policies run on the cluster above; each profile runs once, on its own
  // nodes, with `profile_policy`.
  std::vector<profile_spec> profiles;
  policy_spec profile_policy = {"NoScheduler", {"false"}};
  std::filesystem::path file;
};

struct scenario_result {
  std::optional<scenario> value;
  config::problems errors;  // each with its field path ("load.rates[2]", "policies[1].name")
};

// Reads and validates a scenario and the profile and trace files it names. Every problem is
// reported, each naming its field ("load.rates[2]: must be >= 0 (got -1)"); a YAML syntax error
// names file:line:col. The rules:
// - cluster: nodes 1..64, slots 1..4096, queue 0..1000000, seed >= 1 (0 would give node 0 a
//   random seed); key "generate", "none" or an existing file (made absolute); settings are
//   dotted keys checked against p2pfaasd's config (nested mappings are flattened), except the
//   keys the bench sets itself (node.listen, executor.slots: use cluster.slots, ...).
// - workloads: at least one; function [A-Za-z0-9_-]+; names [A-Za-z0-9_.-]+ and unique; weight
//   in (0, 1e6]; deadline_seconds 0..3600; parameter values scalars.
// - load: rates 1 value or exactly cluster.nodes values, each 0..1e6, not all 0; arrivals: trace
//   needs `trace` (read here with parse_rate_trace; errors under load.trace), and `trace` is only
//   allowed with it; closed_loop_clients 0..1000 (with > 0, rates/arrivals/trace must be left
//   out); requests 0..1e8; timeout_seconds in (0, 3600].
// - duration_seconds in (0, 3600], warmup_seconds 0..3600, repetitions 1..100.
// - at least one policy or profile; policy names non-empty (p2pfaasd checks names and
//   parameters when each policy is applied), CentralJSQ with no parameters, no policy twice;
//   profile_policy only with profiles; profiles unique by name; with profiles, cluster.settings
//   may not set the executor knobs a profile sets.
// rates are counted against cluster.nodes: with --targets, cluster.nodes should be the number of
// targets.
scenario_result read_scenario(const std::filesystem::path& file);

// Reads one profile file on its own (also used by read_scenario). Paths in errors are prefixed
// with `path_prefix` ("profiles[2]"). Knob ranges are p2pfaasd's (executor.*), replicas 1..64,
// prices 0..1 USD, security_score 0..10; name defaults to the file's stem. Every number set in
// the file needs a `sources` entry, `sources` may only name numbers the file sets, and
// `emulated` may only list knobs the file sets.
std::optional<profile_spec> read_profile(const std::filesystem::path& file,
                                         const std::string& path_prefix, config::problems& errors);

// The scenario as report.json's "scenario" object: every field, profiles by name and file.
nlohmann::json scenario_json(const scenario& value);

}  // namespace p2pfaas::bench
