#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace p2pfaas::config {

struct node_section {
  std::string id;  // defaults() fills in the hostname
  std::string listen = "0.0.0.0:18080";
  std::string advertise;  // "" = derived from listen by the node
  std::string data_dir = "p2pfaas-data";
  std::string group = "default";
  int io_threads = 0;  // 0 = half the cores, at least 1
  double drain_timeout_seconds = 10;

  bool operator==(const node_section&) const = default;
};

struct http_section {
  std::int64_t max_body_bytes = 10485760;
  int max_header_bytes = 16384;
  double read_timeout_seconds = 30;
  int max_connections = 4096;
  // Request body bytes all connections may hold at once (128 MiB); a body that does not fit now
  // gets 503 + Retry-After. At least max_body_bytes, or a body of that size could never fit.
  std::int64_t body_budget_bytes = 134217728;

  bool operator==(const http_section&) const = default;
};

struct executor_section {
  int slots = 1;  // defaults() fills in the number of cores
  int queue = 64;
  double timeout_seconds = 30;
  int memory_limit_mb = 512;  // what one call of the memory built-in may allocate
  // What all running calls may hold at once; a call that does not fit gets 429.
  int memory_budget_mb = 1024;
  // Fair admission between clients when slots and queue are contended (workloads/executor.hpp).
  bool fair_sources = true;
  double keep_alive_seconds = 60;
  double cold_start_ms = 0;
  double per_call_overhead_ms = 0;
  std::uint64_t seed = 0;  // 0 = random seed at start

  bool operator==(const executor_section&) const = default;
};

// Gossip membership and peer links. Timings are LAN defaults: a node killed with SIGKILL is
// declared dead by every survivor in about 1.5 s (3 s median, 5 s worst is the target), and 20%
// packet loss causes no false death. See discovery/membership_config.hpp for what each one trades.
struct cluster_section {
  std::vector<std::string> join;
  std::string key_file;
  double probe_interval_seconds = 0.2;
  double probe_timeout_seconds = 0.1;
  int indirect_checks = 3;
  double suspicion_multiplier = 4;
  double suspicion_max_multiplier = 4;
  int retransmit_multiplier = 4;
  double gossip_interval_seconds = 0.2;
  int gossip_fanout = 3;
  double push_pull_interval_seconds = 10;
  double join_retry_seconds = 1;
  double reap_after_seconds = 60;
  double replay_window_seconds = 30;
  // A node's load record is republished at most this often (and on change only).
  double load_publish_seconds = 0.05;
  // Peer links (WebSocket /peer).
  int link_max_in_flight = 1024;
  double link_connect_timeout_seconds = 1;
  double link_ping_interval_seconds = 1;

  bool operator==(const cluster_section&) const = default;
};

struct admin_section {
  std::string token_file;

  bool operator==(const admin_section&) const = default;
};

struct scheduler_section {
  std::string name = "NoScheduler";
  std::vector<std::string> parameters = {"false"};
  // How long a policy waits for probed peers to tell their load; a peer that has not answered by
  // then is left out of the decision.
  double probe_timeout_seconds = 0.05;

  bool operator==(const scheduler_section&) const = default;
};

// The in-process learner behind LearningScheduler (learner/agent.hpp). Names follow P2PFaaS's
// learner where it has the same knob (alpha, epsilon_*, window_size).
struct learner_section {
  std::string algorithm = "q_learning";  // or "sarsa"
  double alpha = 0.1;                    // learning rate
  double discount = 0.1;                 // gamma: the weight of what the next decision will get
  double epsilon_start = 1.0;            // exploration at start and after a reset
  double epsilon_min = 0.01;
  double epsilon_decay = 0.999;  // epsilon is multiplied by it at each decision
  bool epsilon_decay_enabled = true;
  // Boundaries of the load-per-slot buckets of the state: this node's, and the least loaded
  // known peer's. N boundaries make N + 1 buckets.
  std::vector<double> own_load_buckets = {0.5, 1, 1.5, 2, 3};
  std::vector<double> peer_load_buckets = {0.5, 1, 1.5, 2, 3};
  double reward_met = 1;               // answered 200 within its deadline (or it had none)
  double reward_missed = 0;            // anything else it ran or tried to run
  double reward_rejected = 0;          // the learner chose to reject it
  std::string reward_source = "node";  // "client": rewards come only through /train
  int window_size = 100;               // experiences per episode, for the stats
  double save_interval_seconds = 30;   // the Q-table is saved this often; 0 = at shutdown only

  bool operator==(const learner_section&) const = default;
};

// Listeners that serve P2PFaaS's separate services' APIs on their own ports, so tools written for
// P2PFaaS work unchanged. "" = off.
struct compat_section {
  std::string discovery_listen;  // P2PFaaS discovery, port 19000: GET /list, /configuration
  std::string learner_listen;    // P2PFaaS learner, port 19020

  bool operator==(const compat_section&) const = default;
};

struct log_section {
  std::string level = "info";
  std::string format = "text";

  bool operator==(const log_section&) const = default;
};

struct function_section {
  double deadline_seconds = 0;  // 0 = no deadline
  double timeout_seconds = 0;   // 0 = executor.timeout_seconds
  int task_type = 0;

  bool operator==(const function_section&) const = default;
};

struct config {
  node_section node;
  http_section http;
  executor_section executor;
  cluster_section cluster;
  admin_section admin;
  scheduler_section scheduler;
  learner_section learner;
  compat_section compat;
  log_section log;
  std::map<std::string, function_section> functions;

  bool operator==(const config&) const = default;
};

// One thing wrong with a configuration. `path` is the dotted field path ("executor.slots",
// "cluster.join[1]", "functions.sleep.task_type"), or "" when the problem is not about one field
// (a YAML syntax error, a patch that is not an object).
struct problem {
  std::string path;
  std::string message;

  std::string to_string() const;  // "path: message", or just "message" when path is ""
  bool operator==(const problem&) const = default;
};
using problems = std::vector<problem>;

// Built-in defaults with the machine-dependent values (node.id = hostname, executor.slots =
// cores) filled in. Always valid.
config defaults();

// Applies a full or partial document on top of `out` and then validates the whole result.
// Returns every problem found (decoding and validation); fields that decoded are written to `out`
// even when there are problems, so callers keep their own copy when they need all-or-nothing.
problems from_json(const nlohmann::json& doc, config& out);

// Every validation rule over the whole config, each problem with its field path.
problems validate(const config& value);

// The whole config, every key, in the shape from_json reads (functions as an object).
nlohmann::json to_json(const config& value);

struct sources {
  std::optional<std::filesystem::path> file;
  // NAME=VALUE pairs of the process; only P2PFAAS_* names are used.
  std::vector<std::pair<std::string, std::string>> environment;
  // dotted.key -> raw string value, applied in order (flags and --set).
  std::vector<std::pair<std::string, std::string>> overrides;
};

struct loaded {
  config value;
  problems errors;
  bool ok() const { return errors.empty(); }
};

// defaults < YAML file < P2PFAAS_* environment < overrides. Every layer's problems are collected;
// range rules are checked once on the final result, so a later layer can fix an earlier value.
loaded load(const sources& from);

// RFC 7386 JSON merge patch over `current` (objects merge recursively, null removes a key so it
// falls back to its default, anything else replaces), then full validation. On success `value` is
// the new config; otherwise `value` is `current` and `errors` lists every problem.
loaded apply_patch(const config& current, const nlohmann::json& patch);

// The live config. Readers take a snapshot that stays valid while they use it; writers publish a
// complete, already validated copy.
class holder {
 public:
  explicit holder(config initial);

  std::shared_ptr<const config> get() const;
  // Throws std::invalid_argument on nullptr: readers rely on always getting a config.
  void set(std::shared_ptr<const config> next);

 private:
  // A mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal
  // lock with a relaxed store after reading the pointer, a data race by the memory model that
  // ThreadSanitizer reports (google/sanitizers#1558). Held only to copy one pointer, so readers
  // never wait on a writer's validation work.
  mutable std::mutex mutex_;
  std::shared_ptr<const config> current_;
};

}  // namespace p2pfaas::config
