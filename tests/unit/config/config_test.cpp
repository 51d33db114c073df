#include "config/config.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

problems apply(const json& doc) {
  config value = defaults();
  return from_json(doc, value);
}

std::vector<std::string> rendered(const problems& list) {
  std::vector<std::string> lines;
  for (const auto& p : list) lines.push_back(p.to_string());
  return lines;
}

TEST(Defaults, AreValid) {
  const config value = defaults();
  EXPECT_EQ(validate(value), problems{});
  EXPECT_FALSE(value.node.id.empty());
  EXPECT_GE(value.executor.slots, 1);
  const unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0 && cores <= 4096) {
    EXPECT_EQ(value.executor.slots, static_cast<int>(cores));
  }
}

TEST(Defaults, MatchTheDocumentedValues) {
  const config value = defaults();
  EXPECT_EQ(value.node.listen, "0.0.0.0:18080");
  EXPECT_EQ(value.node.advertise, "");
  EXPECT_EQ(value.node.data_dir, "p2pfaas-data");
  EXPECT_EQ(value.node.group, "default");
  EXPECT_EQ(value.node.io_threads, 0);
  EXPECT_EQ(value.node.drain_timeout_seconds, 10);
  EXPECT_EQ(value.http.max_body_bytes, 10485760);
  EXPECT_EQ(value.http.max_header_bytes, 16384);
  EXPECT_EQ(value.http.read_timeout_seconds, 30);
  EXPECT_EQ(value.http.max_connections, 4096);
  EXPECT_EQ(value.http.body_budget_bytes, 134217728);
  EXPECT_EQ(value.executor.queue, 64);
  EXPECT_EQ(value.executor.timeout_seconds, 30);
  EXPECT_EQ(value.executor.memory_limit_mb, 512);
  EXPECT_EQ(value.executor.keep_alive_seconds, 60);
  EXPECT_EQ(value.executor.cold_start_ms, 0);
  EXPECT_EQ(value.executor.per_call_overhead_ms, 0);
  EXPECT_EQ(value.executor.seed, 0U);
  EXPECT_TRUE(value.cluster.join.empty());
  EXPECT_EQ(value.cluster.key_file, "");
  EXPECT_EQ(value.admin.token_file, "");
  EXPECT_EQ(value.scheduler.name, "NoScheduler");
  EXPECT_EQ(value.scheduler.parameters, std::vector<std::string>{"false"});
  EXPECT_EQ(value.log.level, "info");
  EXPECT_EQ(value.log.format, "text");
  EXPECT_TRUE(value.functions.empty());
  EXPECT_EQ(value.learner.algorithm, "q_learning");
  EXPECT_EQ(value.learner.alpha, 0.1);
  EXPECT_EQ(value.learner.discount, 0.1);
  EXPECT_EQ(value.learner.epsilon_start, 1.0);
  EXPECT_EQ(value.learner.epsilon_min, 0.01);
  EXPECT_EQ(value.learner.epsilon_decay, 0.999);
  EXPECT_TRUE(value.learner.epsilon_decay_enabled);
  EXPECT_EQ(value.learner.own_load_buckets, (std::vector<double>{0.5, 1, 1.5, 2, 3}));
  EXPECT_EQ(value.learner.peer_load_buckets, (std::vector<double>{0.5, 1, 1.5, 2, 3}));
  EXPECT_EQ(value.learner.reward_met, 1);
  EXPECT_EQ(value.learner.reward_missed, 0);
  EXPECT_EQ(value.learner.reward_rejected, 0);
  EXPECT_EQ(value.learner.reward_source, "node");
  EXPECT_EQ(value.learner.window_size, 100);
  EXPECT_EQ(value.learner.save_interval_seconds, 30);
}

TEST(Problem, ToStringJoinsPathAndMessage) {
  EXPECT_EQ((problem{"executor.slots", "must be >= 1 (got 0)"}.to_string()),
            "executor.slots: must be >= 1 (got 0)");
  EXPECT_EQ((problem{"", "patch must be a JSON object (got 5)"}.to_string()),
            "patch must be a JSON object (got 5)");
}

// One rule broken per case; the document must produce exactly that one problem.
struct rule_case {
  json doc;
  std::string expected;
};

// Names the ctest entry after the broken field and value instead of the struct's bytes.
void PrintTo(const rule_case& c, std::ostream* os) {
  const json* leaf = &c.doc;
  std::string path;
  while (leaf->is_object() && leaf->size() == 1) {
    path += (path.empty() ? "" : ".") + leaf->begin().key();
    leaf = &leaf->begin().value();
  }
  std::string value = leaf->dump();
  if (value.size() > 24) value = value.substr(0, 24) + "...";
  *os << path << "=" << value;
}

class ValidationRule : public ::testing::TestWithParam<rule_case> {};

TEST_P(ValidationRule, ReportsFieldPathAndValue) {
  EXPECT_EQ(rendered(apply(GetParam().doc)), std::vector<std::string>{GetParam().expected})
      << GetParam().doc.dump();
}

const std::string long_id(65, 'a');

INSTANTIATE_TEST_SUITE_P(
    AllRules, ValidationRule,
    ::testing::Values(
        rule_case{{{"node", {{"id", ""}}}}, "node.id: must not be empty"},
        rule_case{{{"node", {{"id", long_id}}}}, "node.id: must be at most 64 characters (got 65)"},
        rule_case{{{"node", {{"id", "a b"}}}},
                  "node.id: may contain only letters, digits, '.', '_' and '-' (got \"a b\")"},
        rule_case{{{"node", {{"listen", "nohost"}}}},
                  "node.listen: must be HOST:PORT or [IPV6]:PORT with port 0..65535 (got "
                  "\"nohost\")"},
        rule_case{{{"node", {{"listen", "h:65536"}}}},
                  "node.listen: must be HOST:PORT or [IPV6]:PORT with port 0..65535 (got "
                  "\"h:65536\")"},
        rule_case{{{"node", {{"listen", "::1:80"}}}},
                  "node.listen: must be HOST:PORT or [IPV6]:PORT with port 0..65535 (got "
                  "\"::1:80\")"},
        rule_case{{{"node", {{"advertise", "h:0"}}}},
                  "node.advertise: must be empty or HOST:PORT or [IPV6]:PORT with port 1..65535 "
                  "(got \"h:0\")"},
        rule_case{{{"node", {{"data_dir", ""}}}}, "node.data_dir: must not be empty"},
        rule_case{{{"node", {{"group", ""}}}}, "node.group: must not be empty"},
        rule_case{{{"node", {{"io_threads", -1}}}}, "node.io_threads: must be >= 0 (got -1)"},
        rule_case{{{"node", {{"io_threads", 257}}}}, "node.io_threads: must be <= 256 (got 257)"},
        rule_case{{{"node", {{"drain_timeout_seconds", -0.5}}}},
                  "node.drain_timeout_seconds: must be >= 0 (got -0.5)"},
        rule_case{{{"node", {{"drain_timeout_seconds", 3600.5}}}},
                  "node.drain_timeout_seconds: must be <= 3600 (got 3600.5)"},
        rule_case{{{"http", {{"max_body_bytes", 0}}}}, "http.max_body_bytes: must be >= 1 (got 0)"},
        rule_case{{{"http", {{"max_body_bytes", 1073741825}}}},
                  "http.max_body_bytes: must be <= 1073741824 (got 1073741825)"},
        rule_case{{{"http", {{"max_header_bytes", 1023}}}},
                  "http.max_header_bytes: must be >= 1024 (got 1023)"},
        rule_case{{{"http", {{"max_header_bytes", 65536}}}},
                  "http.max_header_bytes: must be <= 65535 (got 65536)"},
        rule_case{{{"http", {{"read_timeout_seconds", 0}}}},
                  "http.read_timeout_seconds: must be > 0 (got 0)"},
        rule_case{{{"http", {{"read_timeout_seconds", 3601}}}},
                  "http.read_timeout_seconds: must be <= 3600 (got 3601)"},
        rule_case{{{"http", {{"max_connections", 0}}}},
                  "http.max_connections: must be >= 1 (got 0)"},
        rule_case{{{"http", {{"max_connections", 1000001}}}},
                  "http.max_connections: must be <= 1000000 (got 1000001)"},
        rule_case{{{"http", {{"body_budget_bytes", 1048575}}}},
                  "http.body_budget_bytes: must be >= 1048576 (got 1048575)"},
        rule_case{{{"http", {{"body_budget_bytes", 68719476737}}}},
                  "http.body_budget_bytes: must be <= 68719476736 (got 68719476737)"},
        rule_case{{{"http", {{"max_body_bytes", 2097152}, {"body_budget_bytes", 2097151}}}},
                  "http.body_budget_bytes: must be >= http.max_body_bytes (2097152), got 2097151: "
                  "a body the node allows could never be held"},
        rule_case{{{"executor", {{"slots", 0}}}}, "executor.slots: must be >= 1 (got 0)"},
        rule_case{{{"executor", {{"slots", 4097}}}}, "executor.slots: must be <= 4096 (got 4097)"},
        rule_case{{{"executor", {{"queue", -1}}}}, "executor.queue: must be >= 0 (got -1)"},
        rule_case{{{"executor", {{"queue", 1000001}}}},
                  "executor.queue: must be <= 1000000 (got 1000001)"},
        rule_case{{{"executor", {{"timeout_seconds", 0}}}},
                  "executor.timeout_seconds: must be > 0 (got 0)"},
        rule_case{{{"executor", {{"timeout_seconds", 86400.25}}}},
                  "executor.timeout_seconds: must be <= 86400 (got 86400.25)"},
        rule_case{{{"executor", {{"memory_limit_mb", 0}}}},
                  "executor.memory_limit_mb: must be >= 1 (got 0)"},
        rule_case{{{"executor", {{"memory_limit_mb", 1048577}}}},
                  "executor.memory_limit_mb: must be <= 1048576 (got 1048577)"},
        rule_case{{{"executor", {{"keep_alive_seconds", -1}}}},
                  "executor.keep_alive_seconds: must be >= 0 (got -1)"},
        rule_case{{{"executor", {{"keep_alive_seconds", 86401}}}},
                  "executor.keep_alive_seconds: must be <= 86400 (got 86401)"},
        rule_case{{{"executor", {{"cold_start_ms", -1}}}},
                  "executor.cold_start_ms: must be >= 0 (got -1)"},
        rule_case{{{"executor", {{"cold_start_ms", 600001}}}},
                  "executor.cold_start_ms: must be <= 600000 (got 600001)"},
        rule_case{{{"executor", {{"per_call_overhead_ms", -0.001}}}},
                  "executor.per_call_overhead_ms: must be >= 0 (got -0.001)"},
        rule_case{{{"executor", {{"per_call_overhead_ms", 600000.5}}}},
                  "executor.per_call_overhead_ms: must be <= 600000 (got 600000.5)"},
        rule_case{{{"cluster", {{"join", json::array({"a:1", "nope"})}}}},
                  "cluster.join[1]: must be HOST:PORT or [IPV6]:PORT with port 1..65535 (got "
                  "\"nope\")"},
        rule_case{{{"cluster", {{"join", json::array({"a:0"})}}}},
                  "cluster.join[0]: must be HOST:PORT or [IPV6]:PORT with port 1..65535 (got "
                  "\"a:0\")"},
        rule_case{{{"scheduler", {{"name", ""}}}}, "scheduler.name: must not be empty"},
        rule_case{{{"learner", {{"algorithm", "td"}}}},
                  "learner.algorithm: must be one of q_learning, sarsa (got \"td\")"},
        rule_case{{{"learner", {{"alpha", 0}}}}, "learner.alpha: must be > 0 (got 0)"},
        rule_case{{{"learner", {{"alpha", 1.5}}}}, "learner.alpha: must be <= 1 (got 1.5)"},
        rule_case{{{"learner", {{"discount", -0.1}}}}, "learner.discount: must be >= 0 (got -0.1)"},
        rule_case{{{"learner", {{"discount", 1}}}}, "learner.discount: must be <= 0.999 (got 1)"},
        rule_case{{{"learner", {{"epsilon_start", -0.5}}}},
                  "learner.epsilon_start: must be >= 0 (got -0.5)"},
        rule_case{{{"learner", {{"epsilon_start", 1.5}}}},
                  "learner.epsilon_start: must be <= 1 (got 1.5)"},
        rule_case{{{"learner", {{"epsilon_min", -0.01}}}},
                  "learner.epsilon_min: must be >= 0 (got -0.01)"},
        rule_case{{{"learner", {{"epsilon_min", 2}}}}, "learner.epsilon_min: must be <= 1 (got 2)"},
        rule_case{{{"learner", {{"epsilon_decay", 0}}}},
                  "learner.epsilon_decay: must be > 0 (got 0)"},
        rule_case{{{"learner", {{"epsilon_decay", 1.001}}}},
                  "learner.epsilon_decay: must be <= 1 (got 1.001)"},
        rule_case{{{"learner", {{"own_load_buckets", json::array({0.5, 1, 0.5})}}}},
                  "learner.own_load_buckets[2]: must be > learner.own_load_buckets[1] (1) (got "
                  "0.5)"},
        rule_case{{{"learner", {{"own_load_buckets", json::array({1, 1})}}}},
                  "learner.own_load_buckets[1]: must be > learner.own_load_buckets[0] (1) (got 1)"},
        rule_case{{{"learner", {{"own_load_buckets", json::array({0, 1})}}}},
                  "learner.own_load_buckets[0]: must be > 0 (got 0)"},
        rule_case{{{"learner", {{"peer_load_buckets", json::array()}}}},
                  "learner.peer_load_buckets: must have 1 to 32 boundaries (got 0)"},
        rule_case{{{"learner", {{"peer_load_buckets", json::array({1, 2, -3})}}}},
                  "learner.peer_load_buckets[2]: must be > 0 (got -3)"},
        rule_case{{{"learner", {{"reward_met", -1000.5}}}},
                  "learner.reward_met: must be >= -1000 (got -1000.5)"},
        rule_case{{{"learner", {{"reward_met", 1001}}}},
                  "learner.reward_met: must be <= 1000 (got 1001)"},
        rule_case{{{"learner", {{"reward_missed", -1001}}}},
                  "learner.reward_missed: must be >= -1000 (got -1001)"},
        rule_case{{{"learner", {{"reward_missed", 1000.5}}}},
                  "learner.reward_missed: must be <= 1000 (got 1000.5)"},
        rule_case{{{"learner", {{"reward_rejected", -2000}}}},
                  "learner.reward_rejected: must be >= -1000 (got -2000)"},
        rule_case{{{"learner", {{"reward_rejected", 1e6}}}},
                  "learner.reward_rejected: must be <= 1000 (got 1000000)"},
        rule_case{{{"learner", {{"reward_source", "server"}}}},
                  "learner.reward_source: must be one of node, client (got \"server\")"},
        rule_case{{{"learner", {{"window_size", 0}}}}, "learner.window_size: must be >= 1 (got 0)"},
        rule_case{{{"learner", {{"window_size", 1000001}}}},
                  "learner.window_size: must be <= 1000000 (got 1000001)"},
        rule_case{{{"learner", {{"save_interval_seconds", -1}}}},
                  "learner.save_interval_seconds: must be >= 0 (got -1)"},
        rule_case{{{"learner", {{"save_interval_seconds", 86401}}}},
                  "learner.save_interval_seconds: must be <= 86400 (got 86401)"},
        rule_case{{{"learner", {{"epsilon_min", 0.5}, {"epsilon_start", 0.25}}}},
                  "learner.epsilon_min: must be <= learner.epsilon_start (0.25), got 0.5"},
        rule_case{{{"log", {{"level", "loud"}}}},
                  "log.level: must be one of trace, debug, info, warn, error (got \"loud\")"},
        rule_case{{{"log", {{"format", "xml"}}}},
                  "log.format: must be one of text, json (got \"xml\")"},
        rule_case{{{"functions", {{"bad/name", json::object()}}}},
                  "functions.bad/name: may contain only letters, digits, '.', '_' and '-' (got "
                  "\"bad/name\")"},
        rule_case{{{"functions", {{"", json::object()}}}}, "functions.: must not be empty"},
        rule_case{{{"functions", {{"sleep", {{"deadline_seconds", -1}}}}}},
                  "functions.sleep.deadline_seconds: must be >= 0 (got -1)"},
        rule_case{{{"functions", {{"sleep", {{"deadline_seconds", 86401}}}}}},
                  "functions.sleep.deadline_seconds: must be <= 86400 (got 86401)"},
        rule_case{{{"functions", {{"sleep", {{"timeout_seconds", -2}}}}}},
                  "functions.sleep.timeout_seconds: must be >= 0 (got -2)"},
        rule_case{{{"functions", {{"sleep", {{"timeout_seconds", 86401}}}}}},
                  "functions.sleep.timeout_seconds: must be <= 86400 (got 86401)"},
        rule_case{{{"functions", {{"sleep", {{"task_type", -1}}}}}},
                  "functions.sleep.task_type: must be >= 0 (got -1)"},
        rule_case{{{"functions", {{"sleep", {{"task_type", 1024}}}}}},
                  "functions.sleep.task_type: must be <= 1023 (got 1024)"}));

TEST(Validation, BoundsAreInclusive) {
  std::vector<double> most_buckets(32);
  for (std::size_t i = 0; i < most_buckets.size(); ++i) {
    most_buckets[i] = 0.5 + static_cast<double>(i);
  }
  const json edges = {
      {"node",
       {{"id", std::string(64, 'x')},
        {"listen", "[::1]:0"},
        {"advertise", "h.example:65535"},
        {"io_threads", 256},
        {"drain_timeout_seconds", 3600}}},
      {"http",
       {{"max_body_bytes", 1073741824},
        {"max_header_bytes", 65535},
        {"read_timeout_seconds", 3600},
        {"max_connections", 1000000},
        {"body_budget_bytes", 68719476736}}},
      {"executor",
       {{"slots", 4096},
        {"queue", 0},
        {"timeout_seconds", 86400},
        {"memory_limit_mb", 1048576},
        {"memory_budget_mb", 1048576},
        {"keep_alive_seconds", 86400},
        {"cold_start_ms", 600000},
        {"per_call_overhead_ms", 600000}}},
      {"cluster", {{"join", json::array({"a:1", "[::1]:65535"})}}},
      {"learner",
       {{"algorithm", "sarsa"},
        {"alpha", 1},
        {"discount", 0.999},
        {"epsilon_start", 1},
        {"epsilon_min", 1},
        {"epsilon_decay", 1},
        {"own_load_buckets", most_buckets},
        {"peer_load_buckets", json::array({1e-9})},
        {"reward_met", 1000},
        {"reward_missed", -1000},
        {"reward_rejected", 1000},
        {"reward_source", "client"},
        {"window_size", 1000000},
        {"save_interval_seconds", 86400}}},
      {"functions",
       {{"a.B_c-9", {{"deadline_seconds", 86400}, {"timeout_seconds", 86400}, {"task_type", 1023}}},
        {"z", {{"deadline_seconds", 0}, {"timeout_seconds", 0}, {"task_type", 0}}}}},
  };
  EXPECT_EQ(rendered(apply(edges)), std::vector<std::string>{});

  const json lows = {{"node", {{"id", "a"}, {"io_threads", 0}, {"drain_timeout_seconds", 0}}},
                     {"http",
                      {{"max_body_bytes", 1},
                       {"max_header_bytes", 1024},
                       {"max_connections", 1},
                       {"body_budget_bytes", 1048576}}},
                     {"executor",
                      {{"slots", 1},
                       {"memory_limit_mb", 1},
                       {"keep_alive_seconds", 0},
                       {"timeout_seconds", 0.001}}},
                     {"learner",
                      {{"alpha", 1e-9},
                       {"discount", 0},
                       {"epsilon_start", 0},
                       {"epsilon_min", 0},
                       {"epsilon_decay", 1e-9},
                       {"reward_met", -1000},
                       {"window_size", 1},
                       {"save_interval_seconds", 0}}}};
  EXPECT_EQ(rendered(apply(lows)), std::vector<std::string>{});
}

TEST(Validation, BucketBoundaries) {
  std::vector<double> too_many(33);
  for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] = 1.0 + static_cast<double>(i);
  EXPECT_EQ(rendered(apply({{"learner", {{"own_load_buckets", too_many}}}})),
            std::vector<std::string>{"learner.own_load_buckets: must have 1 to 32 boundaries (got "
                                     "33)"});
  // Each misplaced element is one problem, compared with the one just before it.
  EXPECT_EQ(
      rendered(apply({{"learner", {{"own_load_buckets", json::array({2, 1, 3, -1, 4, 4})}}}})),
      (std::vector<std::string>{
          "learner.own_load_buckets[1]: must be > learner.own_load_buckets[0] (2) (got 1)",
          "learner.own_load_buckets[3]: must be > 0 (got -1)",
          "learner.own_load_buckets[5]: must be > learner.own_load_buckets[4] (4) (got 4)",
      }));
  // Values set in code are not filtered by the reader, so the rule itself refuses non-finite ones.
  config value = defaults();
  value.learner.own_load_buckets = {1, std::numeric_limits<double>::infinity(), 3};
  value.learner.peer_load_buckets = {std::numeric_limits<double>::quiet_NaN(), 1};
  EXPECT_EQ(rendered(validate(value)),
            (std::vector<std::string>{
                "learner.own_load_buckets[1]: must be a finite number (got inf)",
                "learner.peer_load_buckets[0]: must be a finite number (got nan)",
            }));
}

TEST(Validate, EpsilonMinMustNotExceedEpsilonStart) {
  config value = defaults();
  value.learner.epsilon_start = 0.2;
  value.learner.epsilon_min = 0.3;
  EXPECT_EQ(rendered(validate(value)),
            std::vector<std::string>{
                "learner.epsilon_min: must be <= learner.epsilon_start (0.2), got 0.3"});
  value.learner.epsilon_min = 0.2;
  EXPECT_TRUE(validate(value).empty());

  // Both rules between fields are reported together.
  value.learner.epsilon_min = 0.3;
  value.cluster.probe_timeout_seconds = value.cluster.probe_interval_seconds;
  const auto found = validate(value);
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].path, "cluster.probe_timeout_seconds");
  EXPECT_EQ(found[1].path, "learner.epsilon_min");

  // Not checked while either field is invalid on its own.
  value = defaults();
  value.learner.epsilon_start = -1;
  EXPECT_EQ(rendered(validate(value)),
            std::vector<std::string>{"learner.epsilon_start: must be >= 0 (got -1)"});
}

TEST(Validation, ChecksConfigsBuiltInCode) {
  config value = defaults();
  value.executor.slots = 0;
  value.log.level = "loud";
  EXPECT_EQ(rendered(validate(value)),
            (std::vector<std::string>{
                "executor.slots: must be >= 1 (got 0)",
                "log.level: must be one of trace, debug, info, warn, error (got \"loud\")"}));
}

TEST(UnknownKeys, AreReportedAtEveryLevel) {
  EXPECT_EQ(rendered(apply({{"nodes", json::object()}})),
            std::vector<std::string>{"nodes: unknown key"});
  EXPECT_EQ(rendered(apply({{"executor", {{"slotz", 4}}}})),
            std::vector<std::string>{"executor.slotz: unknown key"});
  EXPECT_EQ(rendered(apply({{"functions", {{"sleep", {{"deadline", 1}}}}}})),
            std::vector<std::string>{"functions.sleep.deadline: unknown key"});
  EXPECT_EQ(rendered(apply({{"learner", {{"nope", 1}}}})),
            std::vector<std::string>{"learner.nope: unknown key"});
}

TEST(FromJson, CollectsEveryProblemAtOnce) {
  const json doc = {
      {"executor", {{"slots", 0}, {"queue", "lots"}, {"slotz", 1}}},
      {"http", {{"max_body_bytes", "abc"}}},
      {"log", {{"level", "loud"}}},
      {"autoscaler", json::object()},
  };
  const auto lines = rendered(apply(doc));
  const std::vector<std::string> expected = {
      "http.max_body_bytes: must be an integer (got \"abc\")",
      "executor.queue: must be an integer (got \"lots\")",
      "executor.slotz: unknown key",
      "autoscaler: unknown key",
      "executor.slots: must be >= 1 (got 0)",
      "log.level: must be one of trace, debug, info, warn, error (got \"loud\")",
  };
  EXPECT_EQ(lines, expected);
}

TEST(FromJson, WrongTypesAreProblemsNotExceptions) {
  EXPECT_EQ(rendered(apply({{"node", {{"id", 5}}}})),
            std::vector<std::string>{"node.id: must be a string (got 5)"});
  EXPECT_EQ(rendered(apply({{"executor", {{"slots", true}}}})),
            std::vector<std::string>{"executor.slots: must be an integer (got true)"});
  EXPECT_EQ(rendered(apply({{"executor", {{"slots", 8.5}}}})),
            std::vector<std::string>{"executor.slots: must be an integer (got 8.5)"});
  EXPECT_EQ(rendered(apply({{"executor", {{"timeout_seconds", json::array()}}}})),
            std::vector<std::string>{"executor.timeout_seconds: must be a number (got [])"});
  EXPECT_EQ(rendered(apply({{"executor", 5}})),
            std::vector<std::string>{"executor: must be an object (got 5)"});
  EXPECT_EQ(rendered(apply({{"functions", {{"sleep", 1}}}})),
            std::vector<std::string>{"functions.sleep: must be an object (got 1)"});
  EXPECT_EQ(rendered(apply(json::array({1}))),
            std::vector<std::string>{"must be an object (got [1])"});
  EXPECT_EQ(
      rendered(apply({{"cluster", {{"join", 5}}}})),
      std::vector<std::string>{"cluster.join: must be a list or a comma-separated string (got 5)"});
  EXPECT_EQ(rendered(apply({{"cluster", {{"join", json::array({"a:1", 5})}}}})),
            std::vector<std::string>{"cluster.join[1]: must be a string (got 5)"});
  EXPECT_EQ(rendered(apply({{"scheduler", {{"parameters", json::array({json::object()})}}}})),
            std::vector<std::string>{
                "scheduler.parameters[0]: must be a string, number or bool (got {})"});
  EXPECT_EQ(rendered(apply({{"executor", {{"slots", 10000000000LL}}}})),
            std::vector<std::string>{
                "executor.slots: must be between -2147483648 and 2147483647 (got 10000000000)"});
}

TEST(FromJson, NullIsAMissingValueForFieldsAndEmptyForSections) {
  EXPECT_EQ(rendered(apply({{"executor", {{"slots", nullptr}}}})),
            std::vector<std::string>{"executor.slots: missing value"});
  EXPECT_EQ(rendered(apply({{"scheduler", {{"parameters", json::array({"1", nullptr})}}}})),
            std::vector<std::string>{"scheduler.parameters[1]: missing value"});
  config value = defaults();
  EXPECT_TRUE(
      from_json({{"executor", nullptr}, {"functions", {{"sleep", nullptr}}}}, value).empty());
  EXPECT_EQ(value.functions.at("sleep"), function_section{});
  EXPECT_TRUE(from_json(nullptr, value).empty());
}

TEST(FromJson, BadValueLeavesThePreviousOne) {
  config value = defaults();
  value.executor.queue = 7;
  value.cluster.join = {"a:1"};
  from_json({{"executor", {{"queue", "x"}}}, {"cluster", {{"join", json::array({"b:2", 3})}}}},
            value);
  EXPECT_EQ(value.executor.queue, 7);
  EXPECT_EQ(value.cluster.join, std::vector<std::string>{"a:1"});
}

TEST(Leniency, NumbersAndListsFromStrings) {
  config value = defaults();
  const json doc = {
      {"executor",
       {{"slots", "8"},
        {"timeout_seconds", "0.25"},
        {"cold_start_ms", "1e3"},
        {"keep_alive_seconds", "5"},
        {"seed", "18446744073709551615"}}},
      {"http", {{"max_body_bytes", "1048576"}}},
      {"node", {{"io_threads", "-0"}}},
      {"cluster", {{"join", "a:1, b:2,,[::1]:3,"}}},
      {"scheduler", {{"parameters", json::array({2, true, "x", 1.5})}}},
  };
  ASSERT_EQ(rendered(from_json(doc, value)), std::vector<std::string>{});
  EXPECT_EQ(value.executor.slots, 8);
  EXPECT_EQ(value.executor.timeout_seconds, 0.25);
  EXPECT_EQ(value.executor.cold_start_ms, 1000);
  EXPECT_EQ(value.executor.keep_alive_seconds, 5);
  EXPECT_EQ(value.executor.seed, 18446744073709551615ULL);
  EXPECT_EQ(value.http.max_body_bytes, 1048576);
  EXPECT_EQ(value.node.io_threads, 0);
  EXPECT_EQ(value.cluster.join, (std::vector<std::string>{"a:1", "b:2", "[::1]:3"}));
  EXPECT_EQ(value.scheduler.parameters, (std::vector<std::string>{"2", "true", "x", "1.5"}));

  ASSERT_TRUE(
      from_json({{"scheduler", {{"parameters", "4, 2,true"}}}, {"cluster", {{"join", ""}}}}, value)
          .empty());
  EXPECT_EQ(value.scheduler.parameters, (std::vector<std::string>{"4", "2", "true"}));
  EXPECT_TRUE(value.cluster.join.empty());
}

TEST(Leniency, StringsMustParseCompletely) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"executor", {{"slots", "8x"}}}}, "executor.slots: must be an integer (got \"8x\")"},
      {{{"executor", {{"slots", " 8"}}}}, "executor.slots: must be an integer (got \" 8\")"},
      {{{"executor", {{"slots", ""}}}}, "executor.slots: must be an integer (got \"\")"},
      {{{"executor", {{"slots", "8.0"}}}}, "executor.slots: must be an integer (got \"8.0\")"},
      {{{"executor", {{"slots", "true"}}}}, "executor.slots: must be an integer (got \"true\")"},
      {{{"executor", {{"timeout_seconds", "1s"}}}},
       "executor.timeout_seconds: must be a number (got \"1s\")"},
      {{{"executor", {{"timeout_seconds", "nan"}}}},
       "executor.timeout_seconds: must be a number (got \"nan\")"},
      {{{"executor", {{"timeout_seconds", "inf"}}}},
       "executor.timeout_seconds: must be a number (got \"inf\")"},
      {{{"http", {{"max_body_bytes", "abc"}}}},
       "http.max_body_bytes: must be an integer (got \"abc\")"},
      {{{"executor", {{"seed", "-1"}}}},
       "executor.seed: must be between 0 and 18446744073709551615 (got -1)"},
      {{{"executor", {{"seed", "18446744073709551616"}}}},
       "executor.seed: must be an integer (got \"18446744073709551616\")"},
  };
  for (const auto& [doc, expected] : cases) {
    EXPECT_EQ(rendered(apply(doc)), std::vector<std::string>{expected}) << doc.dump();
  }
}

TEST(Booleans, AcceptJsonBoolsAndTheirUsualSpellings) {
  const std::vector<std::pair<json, bool>> cases = {
      {true, true},     {false, false}, {"true", true},   {"false", false}, {"True", true},
      {"False", false}, {"TRUE", true}, {"FALSE", false}, {"1", true},      {"0", false},
  };
  for (const auto& [given, expected] : cases) {
    config value = defaults();
    value.learner.epsilon_decay_enabled = !expected;
    EXPECT_EQ(rendered(from_json({{"learner", {{"epsilon_decay_enabled", given}}}}, value)),
              std::vector<std::string>{})
        << given.dump();
    EXPECT_EQ(value.learner.epsilon_decay_enabled, expected) << given.dump();
  }
}

TEST(Booleans, RefuseEverythingElse) {
  for (const json& given : {json("yes"), json("on"), json("tRuE"), json(""), json(" true"), json(1),
                            json(0), json(0.5), json::array(), json::object()}) {
    config value = defaults();
    value.learner.epsilon_decay_enabled = false;
    EXPECT_EQ(
        rendered(from_json({{"learner", {{"epsilon_decay_enabled", given}}}}, value)),
        std::vector<std::string>{
            "learner.epsilon_decay_enabled: must be a boolean (got " +
            (given.is_string() ? "\"" + given.get<std::string>() + "\"" : given.dump()) + ")"});
    EXPECT_FALSE(value.learner.epsilon_decay_enabled) << given.dump();
  }
  EXPECT_EQ(rendered(apply({{"learner", {{"epsilon_decay_enabled", nullptr}}}})),
            std::vector<std::string>{"learner.epsilon_decay_enabled: missing value"});
}

TEST(NumberLists, FromArraysOfNumbersOrNumericStringsAndFromCommaSeparatedText) {
  config value = defaults();
  ASSERT_EQ(rendered(from_json({{"learner",
                                 {{"own_load_buckets", json::array({0.25, 1, "1.5", "2e0"})},
                                  {"peer_load_buckets", " 0.5, 1,,2 ,"}}}},
                               value)),
            std::vector<std::string>{});
  EXPECT_EQ(value.learner.own_load_buckets, (std::vector<double>{0.25, 1, 1.5, 2}));
  EXPECT_EQ(value.learner.peer_load_buckets, (std::vector<double>{0.5, 1, 2}));

  ASSERT_EQ(rendered(from_json({{"learner", {{"own_load_buckets", "4"}}}}, value)),
            std::vector<std::string>{});
  EXPECT_EQ(value.learner.own_load_buckets, std::vector<double>{4});
}

TEST(NumberLists, ABadElementIsNamedAndTheListKeepsItsPreviousValue) {
  const std::vector<std::pair<json, std::vector<std::string>>> cases = {
      {json::array({0.5, "x", 2}), {"learner.own_load_buckets[1]: must be a number (got \"x\")"}},
      {"0.5, x, 2", {"learner.own_load_buckets[1]: must be a number (got \"x\")"}},
      {json::array({"inf", 1}), {"learner.own_load_buckets[0]: must be a number (got \"inf\")"}},
      {"1, nan", {"learner.own_load_buckets[1]: must be a number (got \"nan\")"}},
      {json::array({1, " 2"}), {"learner.own_load_buckets[1]: must be a number (got \" 2\")"}},
      {json::array({true, json::array()}),
       {"learner.own_load_buckets[0]: must be a number (got true)",
        "learner.own_load_buckets[1]: must be a number (got [])"}},
      {json::array({1, nullptr}), {"learner.own_load_buckets[1]: missing value"}},
      {5, {"learner.own_load_buckets: must be a list or a comma-separated string (got 5)"}},
      {json::object(),
       {"learner.own_load_buckets: must be a list or a comma-separated string (got {})"}},
      {nullptr, {"learner.own_load_buckets: missing value"}},
  };
  for (const auto& [given, expected] : cases) {
    config value = defaults();
    value.learner.own_load_buckets = {7, 8};
    EXPECT_EQ(rendered(from_json({{"learner", {{"own_load_buckets", given}}}}, value)), expected)
        << given.dump();
    EXPECT_EQ(value.learner.own_load_buckets, (std::vector<double>{7, 8})) << given.dump();
  }
}

TEST(Messages, LongValuesAreCut) {
  const std::string huge(1000, 'q');
  const auto lines = rendered(apply({{"log", {{"level", huge}}}}));
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_LT(lines[0].size(), 200U);
  EXPECT_NE(lines[0].find("...\")"), std::string::npos) << lines[0];
}

config every_field_changed() {
  config value = defaults();
  value.node = {"n-1", "127.0.0.1:0", "[::1]:9", "/var/lib/p", "g", 3, 2.5};
  value.http = {1234, 2048, 1.5, 10, 2097152};
  value.executor = {3, 5, 7.5, 9, 2048, false, 11, 0.5, 0.25, 42};
  value.cluster = {
      {"a:1", "b:2"}, "/k", 0.3, 0.15, 2, 5, 3, 5, 0.25, 4, 20, 2, 30, 10, 0.1, 64, 2, 3};
  value.admin = {"/t"};
  value.scheduler = {"PowerOfNScheduler", {"1", "2", "true", "1"}, 0.2};
  value.compat = {"0.0.0.0:19000", "127.0.0.1:19020"};
  value.log = {"debug", "json"};
  value.learner = {"sarsa", 0.5, 0.9, 0.8,  0.05,     0.99, false, {0.25, 0.75, 4},
                   {1, 2},  2,   -1,  -0.5, "client", 500,  0.5};
  value.functions = {{"sleep", {0.5, 2, 3}}, {"echo.v2", {0, 0, 1}}};
  return value;
}

TEST(ToJson, WritesEveryKey) {
  const json doc = to_json(every_field_changed());
  EXPECT_EQ(doc.size(), 10U);
  EXPECT_EQ(doc["node"].size(), 7U);
  EXPECT_EQ(doc["http"].size(), 5U);
  EXPECT_EQ(doc["executor"].size(), 10U);
  EXPECT_EQ(doc["cluster"].size(), 18U);
  EXPECT_EQ(doc["admin"].size(), 1U);
  EXPECT_EQ(doc["scheduler"].size(), 3U);
  EXPECT_EQ(doc["learner"].size(), 15U);
  EXPECT_EQ(doc["compat"].size(), 2U);
  EXPECT_EQ(doc["log"].size(), 2U);
  EXPECT_EQ(doc["executor"]["seed"], 42);
  EXPECT_EQ(doc["cluster"]["join"], json::array({"a:1", "b:2"}));
  EXPECT_TRUE(doc["learner"]["epsilon_decay_enabled"].is_boolean());
  EXPECT_EQ(doc["learner"]["epsilon_decay_enabled"], false);
  EXPECT_EQ(doc["learner"]["own_load_buckets"], json::array({0.25, 0.75, 4.0}));
  EXPECT_TRUE(doc["learner"]["own_load_buckets"][2].is_number_float());
  EXPECT_EQ(doc["functions"]["sleep"],
            json({{"deadline_seconds", 0.5}, {"timeout_seconds", 2}, {"task_type", 3}}));
  EXPECT_TRUE(to_json(defaults())["functions"].is_object());
}

TEST(Validate, AProbeTimeoutMustLeaveRoomForTheIndirectProbe) {
  config value = defaults();
  value.cluster.probe_interval_seconds = 0.5;
  value.cluster.probe_timeout_seconds = 0.5;
  auto found = validate(value);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].path, "cluster.probe_timeout_seconds");
  value.cluster.probe_timeout_seconds = 0.2;
  EXPECT_TRUE(validate(value).empty());
}

TEST(ToJson, RoundTripsThroughFromJson) {
  const config original = every_field_changed();
  config reread = defaults();
  // Through text as well, as GET/POST /configuration would.
  EXPECT_EQ(rendered(from_json(json::parse(to_json(original).dump()), reread)),
            std::vector<std::string>{});
  EXPECT_EQ(reread, original);
  EXPECT_EQ(reread.learner, original.learner);
  EXPECT_EQ(to_json(reread), to_json(original));
}

TEST(FromJson, PartialDocumentKeepsEverythingElse) {
  config value = every_field_changed();
  ASSERT_TRUE(
      from_json({{"executor", {{"queue", "6"}}}, {"functions", {{"sleep", {{"task_type", 4}}}}}},
                value)
          .empty());
  config expected = every_field_changed();
  expected.executor.queue = 6;
  expected.functions["sleep"].task_type = 4;
  EXPECT_EQ(value, expected);
}

}  // namespace
}  // namespace p2pfaas::config
