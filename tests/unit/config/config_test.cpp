#include "config/config.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <thread>

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
        rule_case{{{"http", {{"max_header_bytes", 1048577}}}},
                  "http.max_header_bytes: must be <= 1048576 (got 1048577)"},
        rule_case{{{"http", {{"read_timeout_seconds", 0}}}},
                  "http.read_timeout_seconds: must be > 0 (got 0)"},
        rule_case{{{"http", {{"read_timeout_seconds", 3601}}}},
                  "http.read_timeout_seconds: must be <= 3600 (got 3601)"},
        rule_case{{{"http", {{"max_connections", 0}}}},
                  "http.max_connections: must be >= 1 (got 0)"},
        rule_case{{{"http", {{"max_connections", 1000001}}}},
                  "http.max_connections: must be <= 1000000 (got 1000001)"},
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
  const json edges = {
      {"node",
       {{"id", std::string(64, 'x')},
        {"listen", "[::1]:0"},
        {"advertise", "h.example:65535"},
        {"io_threads", 256},
        {"drain_timeout_seconds", 3600}}},
      {"http",
       {{"max_body_bytes", 1073741824},
        {"max_header_bytes", 1024},
        {"read_timeout_seconds", 3600},
        {"max_connections", 1000000}}},
      {"executor",
       {{"slots", 4096},
        {"queue", 0},
        {"timeout_seconds", 86400},
        {"memory_limit_mb", 1048576},
        {"keep_alive_seconds", 86400},
        {"cold_start_ms", 600000},
        {"per_call_overhead_ms", 600000}}},
      {"cluster", {{"join", json::array({"a:1", "[::1]:65535"})}}},
      {"functions",
       {{"a.B_c-9", {{"deadline_seconds", 86400}, {"timeout_seconds", 86400}, {"task_type", 1023}}},
        {"z", {{"deadline_seconds", 0}, {"timeout_seconds", 0}, {"task_type", 0}}}}},
  };
  EXPECT_EQ(rendered(apply(edges)), std::vector<std::string>{});

  const json lows = {{"node", {{"id", "a"}, {"io_threads", 0}, {"drain_timeout_seconds", 0}}},
                     {"http", {{"max_body_bytes", 1}, {"max_connections", 1}}},
                     {"executor",
                      {{"slots", 1},
                       {"memory_limit_mb", 1},
                       {"keep_alive_seconds", 0},
                       {"timeout_seconds", 0.001}}}};
  EXPECT_EQ(rendered(apply(lows)), std::vector<std::string>{});
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
}

TEST(FromJson, CollectsEveryProblemAtOnce) {
  const json doc = {
      {"executor", {{"slots", 0}, {"queue", "lots"}, {"slotz", 1}}},
      {"http", {{"max_body_bytes", "abc"}}},
      {"log", {{"level", "loud"}}},
      {"learner", json::object()},
  };
  const auto lines = rendered(apply(doc));
  const std::vector<std::string> expected = {
      "http.max_body_bytes: must be an integer (got \"abc\")",
      "executor.queue: must be an integer (got \"lots\")",
      "executor.slotz: unknown key",
      "learner: unknown key",
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
  value.http = {1234, 2048, 1.5, 10};
  value.executor = {3, 5, 7.5, 9, 11, 0.5, 0.25, 42};
  value.cluster = {
      {"a:1", "b:2"}, "/k", 0.3, 0.15, 2, 5, 3, 5, 0.25, 4, 20, 2, 30, 10, 0.1, 64, 2, 3};
  value.admin = {"/t"};
  value.scheduler = {"PowerOfNScheduler", {"1", "2", "true", "1"}, 0.2};
  value.compat = {"0.0.0.0:19000", "127.0.0.1:19020"};
  value.log = {"debug", "json"};
  value.functions = {{"sleep", {0.5, 2, 3}}, {"echo.v2", {0, 0, 1}}};
  return value;
}

TEST(ToJson, WritesEveryKey) {
  const json doc = to_json(every_field_changed());
  EXPECT_EQ(doc.size(), 9U);
  EXPECT_EQ(doc["node"].size(), 7U);
  EXPECT_EQ(doc["http"].size(), 4U);
  EXPECT_EQ(doc["executor"].size(), 8U);
  EXPECT_EQ(doc["cluster"].size(), 18U);
  EXPECT_EQ(doc["admin"].size(), 1U);
  EXPECT_EQ(doc["scheduler"].size(), 3U);
  EXPECT_EQ(doc["compat"].size(), 2U);
  EXPECT_EQ(doc["log"].size(), 2U);
  EXPECT_EQ(doc["executor"]["seed"], 42);
  EXPECT_EQ(doc["cluster"]["join"], json::array({"a:1", "b:2"}));
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
