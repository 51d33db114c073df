#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tests/support/temp_dir.hpp"

namespace p2pfaas::config {
namespace {

using p2pfaas::testing::temp_dir;

std::vector<std::string> rendered(const problems& list) {
  std::vector<std::string> lines;
  for (const auto& p : list) lines.push_back(p.to_string());
  return lines;
}

TEST(Load, NothingGivenIsTheDefaults) {
  const auto result = load({});
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.value, defaults());
}

TEST(Load, ReadsAYamlFile) {
  const temp_dir dir;
  const auto file = dir.write("node.yaml", R"(
node:
  id: edge-7
  listen: "[::1]:0"
executor:
  slots: 2
  timeout_seconds: 1.5
cluster:
  join:
    - 10.0.0.2:18080
    - peer.local:18081
scheduler:
  name: PowerOfNScheduler
  parameters: [1, 2, true, 1]
functions:
  sleep:
    deadline_seconds: 0.25
  my.fn:
    task_type: 3
)");
  const auto result = load({.file = file});
  ASSERT_EQ(rendered(result.errors), std::vector<std::string>{});
  EXPECT_EQ(result.value.node.id, "edge-7");
  EXPECT_EQ(result.value.node.listen, "[::1]:0");
  EXPECT_EQ(result.value.executor.slots, 2);
  EXPECT_EQ(result.value.executor.timeout_seconds, 1.5);
  EXPECT_EQ(result.value.cluster.join,
            (std::vector<std::string>{"10.0.0.2:18080", "peer.local:18081"}));
  EXPECT_EQ(result.value.scheduler.parameters, (std::vector<std::string>{"1", "2", "true", "1"}));
  EXPECT_EQ(result.value.functions.at("sleep").deadline_seconds, 0.25);
  EXPECT_EQ(result.value.functions.at("my.fn").task_type, 3);
  EXPECT_EQ(result.value.executor.queue, 64);
}

TEST(Load, ReadsTheLearnerSectionFromYaml) {
  const temp_dir dir;
  const auto file = dir.write("learner.yaml", R"(
learner:
  algorithm: sarsa
  alpha: 0.5
  epsilon_decay_enabled: false
  own_load_buckets: [0.25, 1, 4]
  peer_load_buckets:
    - 1
    - "2.5"
  reward_missed: -1
  window_size: 50
)");
  const auto result = load({.file = file});
  ASSERT_EQ(rendered(result.errors), std::vector<std::string>{});
  learner_section expected;
  expected.algorithm = "sarsa";
  expected.alpha = 0.5;
  expected.epsilon_decay_enabled = false;
  expected.own_load_buckets = {0.25, 1, 4};
  expected.peer_load_buckets = {1, 2.5};
  expected.reward_missed = -1;
  expected.window_size = 50;
  EXPECT_EQ(result.value.learner, expected);

  // A YAML scalar where the list goes is read like the environment's comma-separated text.
  const auto flat = load({.file = dir.write("flat.yaml", "learner:\n  own_load_buckets: 1, 2\n")});
  ASSERT_EQ(rendered(flat.errors), std::vector<std::string>{});
  EXPECT_EQ(flat.value.learner.own_load_buckets, (std::vector<double>{1, 2}));

  for (const char* spelling : {"True", "FALSE", "1", "0"}) {
    const auto flag = load({.file = dir.write("flag.yaml", std::string("learner:\n  "
                                                                       "epsilon_decay_enabled: ") +
                                                               spelling + "\n")});
    EXPECT_TRUE(flag.ok()) << spelling;
  }
  EXPECT_EQ(
      rendered(
          load({.file = dir.write("yes.yaml", "learner:\n  epsilon_decay_enabled: yes\n")}).errors),
      std::vector<std::string>{"learner.epsilon_decay_enabled: must be a boolean (got \"yes\")"});
  EXPECT_EQ(
      rendered(load({.file = dir.write("bad.yaml", "learner:\n  own_load_buckets: [1, x, 0.5]\n")})
                   .errors),
      std::vector<std::string>{"learner.own_load_buckets[1]: must be a number (got \"x\")"});
}

TEST(Load, YamlNullsAndEmptyFiles) {
  const temp_dir dir;
  EXPECT_TRUE(load({.file = dir.write("empty.yaml", "")}).ok());
  EXPECT_TRUE(
      load({.file = dir.write("comments.yaml", "# nothing\nexecutor:\n  # slots: 3\n")}).ok());
  EXPECT_EQ(rendered(load({.file = dir.write("null.yaml", "executor:\n  slots:\n")}).errors),
            std::vector<std::string>{"executor.slots: missing value"});
  // Quoted, "null" is just a string; here an invalid log level.
  EXPECT_EQ(rendered(load({.file = dir.write("quoted.yaml", "log:\n  level: 'null'\n")}).errors),
            std::vector<std::string>{
                "log.level: must be one of trace, debug, info, warn, error (got \"null\")"});
}

TEST(Load, YamlSyntaxErrorNamesFileLineAndColumn) {
  const temp_dir dir;
  const auto file = dir.write("broken.yaml", "node:\n  id: a\n  listen: b: c\n");
  const auto result = load({.file = file});
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_EQ(result.errors[0].to_string(),
            file.string() + ":3:12: YAML syntax error: illegal map value");
}

TEST(Load, YamlThatIsNotAMappingIsAProblem) {
  const temp_dir dir;
  const auto file = dir.write("list.yaml", "- a\n- b\n");
  EXPECT_EQ(rendered(load({.file = file}).errors),
            std::vector<std::string>{file.string() +
                                     ": must be a mapping of sections (node:, executor:, ...)"});
}

TEST(Load, UnreadableFileIsAProblemNamingIt) {
  const temp_dir dir;
  const auto missing = dir.path() / "missing.yaml";
  EXPECT_EQ(rendered(load({.file = missing}).errors),
            std::vector<std::string>{missing.string() +
                                     ": cannot read config file: No such file or directory"});
  EXPECT_EQ(
      rendered(load({.file = dir.path()}).errors),
      std::vector<std::string>{dir.path().string() + ": cannot read config file: is a directory"});
}

TEST(Load, PrecedenceIsDefaultsFileEnvironmentOverrides) {
  const temp_dir dir;
  const auto file =
      dir.write("p.yaml", "executor:\n  slots: 2\n  queue: 20\nlog:\n  level: debug\n");
  const std::vector<std::pair<std::string, std::string>> env = {{"P2PFAAS_EXECUTOR_SLOTS", "3"},
                                                                {"P2PFAAS_EXECUTOR_QUEUE", "30"}};
  const std::vector<std::pair<std::string, std::string>> overrides = {{"executor.slots", "4"}};

  const auto all = load({.file = file, .environment = env, .overrides = overrides});
  ASSERT_TRUE(all.ok()) << rendered(all.errors)[0];
  EXPECT_EQ(all.value.executor.slots, 4);
  EXPECT_EQ(all.value.executor.queue, 30);
  EXPECT_EQ(all.value.log.level, "debug");

  const auto no_overrides = load({.file = file, .environment = env});
  EXPECT_EQ(no_overrides.value.executor.slots, 3);

  const auto file_only = load({.file = file});
  EXPECT_EQ(file_only.value.executor.slots, 2);
  EXPECT_EQ(file_only.value.executor.queue, 20);

  const auto env_and_overrides = load({.environment = env, .overrides = overrides});
  EXPECT_EQ(env_and_overrides.value.executor.slots, 4);
  EXPECT_EQ(env_and_overrides.value.log.level, "info");
}

TEST(Load, LaterOverridesWin) {
  const auto result = load(
      {.overrides = {{"executor.slots", "4"}, {"log.level", "warn"}, {"executor.slots", "8"}}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value.executor.slots, 8);
  EXPECT_EQ(result.value.log.level, "warn");
}

TEST(Load, ALaterLayerMayFixAnEarlierValue) {
  const temp_dir dir;
  const auto file = dir.write("bad.yaml", "executor:\n  slots: 0\n");
  EXPECT_FALSE(load({.file = file}).ok());
  EXPECT_TRUE(load({.file = file, .overrides = {{"executor.slots", "2"}}}).ok());
}

TEST(Load, EnvironmentNamesMapToDottedKeys) {
  const auto result = load({.environment = {
                                {"HOME", "/root"},
                                {"p2pfaas_executor_slots", "99"},  // names are case-sensitive
                                {"P2PFAAS_HTTP_MAX_BODY_BYTES", "2048"},
                                {"P2PFAAS_NODE_DATA_DIR", "/data"},
                                {"P2PFAAS_EXECUTOR_PER_CALL_OVERHEAD_MS", "1.5"},
                                {"P2PFAAS_CLUSTER_JOIN", "a:1,b:2"},
                                {"P2PFAAS_SCHEDULER_PARAMETERS", "2,true"},
                                {"P2PFAAS_LOG_LEVEL", "error"},
                            }});
  ASSERT_EQ(rendered(result.errors), std::vector<std::string>{});
  EXPECT_EQ(result.value.http.max_body_bytes, 2048);
  EXPECT_EQ(result.value.node.data_dir, "/data");
  EXPECT_EQ(result.value.executor.per_call_overhead_ms, 1.5);
  EXPECT_EQ(result.value.cluster.join, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(result.value.scheduler.parameters, (std::vector<std::string>{"2", "true"}));
  EXPECT_EQ(result.value.log.level, "error");
  EXPECT_EQ(result.value.executor.slots, defaults().executor.slots);
}

TEST(Load, LearnerFromTheEnvironment) {
  const auto result = load({.environment = {
                                {"P2PFAAS_LEARNER_ALPHA", "0.2"},
                                {"P2PFAAS_LEARNER_OWN_LOAD_BUCKETS", "0.5, 1,2"},
                                {"P2PFAAS_LEARNER_PEER_LOAD_BUCKETS", "3"},
                                {"P2PFAAS_LEARNER_EPSILON_DECAY_ENABLED", "false"},
                                {"P2PFAAS_LEARNER_REWARD_SOURCE", "client"},
                                {"P2PFAAS_LEARNER_WINDOW_SIZE", "10"},
                            }});
  ASSERT_EQ(rendered(result.errors), std::vector<std::string>{});
  EXPECT_EQ(result.value.learner.alpha, 0.2);
  EXPECT_EQ(result.value.learner.own_load_buckets, (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(result.value.learner.peer_load_buckets, std::vector<double>{3});
  EXPECT_FALSE(result.value.learner.epsilon_decay_enabled);
  EXPECT_EQ(result.value.learner.reward_source, "client");
  EXPECT_EQ(result.value.learner.window_size, 10);

  const auto bad = load({.environment = {
                             {"P2PFAAS_LEARNER_OWN_LOAD_BUCKETS", "1,x"},
                             {"P2PFAAS_LEARNER_PEER_LOAD_BUCKETS", "2,1"},
                             {"P2PFAAS_LEARNER_EPSILON_DECAY_ENABLED", "no"},
                             {"P2PFAAS_LEARNER_NOPE", "1"},
                         }});
  EXPECT_EQ(
      rendered(bad.errors),
      (std::vector<std::string>{
          "learner.own_load_buckets[1]: must be a number (got \"x\") (from environment variable "
          "P2PFAAS_LEARNER_OWN_LOAD_BUCKETS)",
          "learner.epsilon_decay_enabled: must be a boolean (got \"no\") (from environment "
          "variable P2PFAAS_LEARNER_EPSILON_DECAY_ENABLED)",
          "learner.nope: unknown key (from environment variable P2PFAAS_LEARNER_NOPE)",
          "learner.peer_load_buckets[1]: must be > learner.peer_load_buckets[0] (2) (got 1) (from "
          "environment variable P2PFAAS_LEARNER_PEER_LOAD_BUCKETS)",
      }));
  EXPECT_EQ(bad.value.learner.own_load_buckets, defaults().learner.own_load_buckets);
}

TEST(Load, UnknownEnvironmentVariablesAreProblemsNamingThem) {
  const auto result = load({.environment = {
                                {"P2PFAAS_EXECUTOR_SLOTZ", "1"},
                                {"P2PFAAS_NOPE_X", "1"},
                                {"P2PFAAS_EXECUTOR", "1"},
                                {"P2PFAAS_FUNCTIONS_SLEEP_DEADLINE_SECONDS", "1"},
                            }});
  EXPECT_EQ(rendered(result.errors),
            (std::vector<std::string>{
                "executor.slotz: unknown key (from environment variable P2PFAAS_EXECUTOR_SLOTZ)",
                "nope.x: unknown key (from environment variable P2PFAAS_NOPE_X)",
                "executor: unknown key (from environment variable P2PFAAS_EXECUTOR)",
                "functions: cannot be set from the environment (from environment variable "
                "P2PFAAS_FUNCTIONS_SLEEP_DEADLINE_SECONDS); use the file or --set",
            }));
}

TEST(Load, EnvironmentValueProblemsNameTheVariable) {
  const auto result = load({.environment = {{"P2PFAAS_EXECUTOR_SLOTS", "0"},
                                            {"P2PFAAS_EXECUTOR_QUEUE", "many"},
                                            {"P2PFAAS_CLUSTER_JOIN", "a:1,b"}}});
  EXPECT_EQ(rendered(result.errors),
            (std::vector<std::string>{
                "executor.queue: must be an integer (got \"many\") (from environment variable "
                "P2PFAAS_EXECUTOR_QUEUE)",
                "executor.slots: must be >= 1 (got 0) (from environment variable "
                "P2PFAAS_EXECUTOR_SLOTS)",
                "cluster.join[1]: must be HOST:PORT or [IPV6]:PORT with port 1..65535 (got \"b\") "
                "(from environment variable P2PFAAS_CLUSTER_JOIN)",
            }));
  // An override of the same key takes the blame away from the variable.
  const auto overridden = load(
      {.environment = {{"P2PFAAS_EXECUTOR_SLOTS", "5"}}, .overrides = {{"executor.slots", "0"}}});
  EXPECT_EQ(rendered(overridden.errors),
            std::vector<std::string>{"executor.slots: must be >= 1 (got 0)"});
}

TEST(Load, OverrideKeys) {
  const auto good = load({.overrides = {{"functions.sleep.deadline_seconds", "0.25"},
                                        {"functions.my.fn.task_type", "3"},
                                        {"cluster.join", "a:1, b:2"},
                                        {"node.advertise", ""}}});
  ASSERT_EQ(rendered(good.errors), std::vector<std::string>{});
  EXPECT_EQ(good.value.functions.at("sleep").deadline_seconds, 0.25);
  EXPECT_EQ(good.value.functions.at("my.fn").task_type, 3);
  EXPECT_EQ(good.value.cluster.join, (std::vector<std::string>{"a:1", "b:2"}));

  const auto bad = load({.overrides = {{"executor.slotz", "1"},
                                       {"nope.x", "1"},
                                       {"executor", "5"},
                                       {"functions.sleep", "x"},
                                       {"functions.sleep.deadline", "1"},
                                       {"executor.slots.deep", "1"}}});
  EXPECT_EQ(rendered(bad.errors), (std::vector<std::string>{
                                      "executor.slotz: unknown key",
                                      "nope.x: unknown key",
                                      "executor: must be an object (got \"5\")",
                                      "functions.sleep: must be an object (got \"x\")",
                                      "functions.sleep.deadline: unknown key",
                                      "executor.slots.deep: unknown key",
                                  }));
}

TEST(Load, LearnerOverrideKeys) {
  const auto good = load({.overrides = {{"learner.own_load_buckets", "0.5,1,2"},
                                        {"learner.epsilon_decay_enabled", "false"},
                                        {"learner.algorithm", "sarsa"},
                                        {"learner.epsilon_start", "0.5"},
                                        {"learner.epsilon_min", "0.5"}}});
  ASSERT_EQ(rendered(good.errors), std::vector<std::string>{});
  EXPECT_EQ(good.value.learner.own_load_buckets, (std::vector<double>{0.5, 1, 2}));
  EXPECT_FALSE(good.value.learner.epsilon_decay_enabled);
  EXPECT_EQ(good.value.learner.algorithm, "sarsa");

  const auto bad = load({.overrides = {{"learner.own_load_buckets", ""},
                                       {"learner.epsilon_decay_enabled", "off"},
                                       {"learner.epsilon_min", "0.9"},
                                       {"learner.epsilon_start", "0.8"},
                                       {"learner.alpha.deep", "1"}}});
  EXPECT_EQ(rendered(bad.errors),
            (std::vector<std::string>{
                "learner.epsilon_decay_enabled: must be a boolean (got \"off\")",
                "learner.alpha.deep: unknown key",
                "learner.own_load_buckets: must have 1 to 32 boundaries (got 0)",
            }));
  // The rule between fields waits until each field is valid on its own.
  const auto crossed =
      load({.overrides = {{"learner.epsilon_min", "0.9"}, {"learner.epsilon_start", "0.8"}}});
  EXPECT_EQ(rendered(crossed.errors),
            std::vector<std::string>{
                "learner.epsilon_min: must be <= learner.epsilon_start (0.8), got 0.9"});
}

TEST(Load, EveryLayersProblemsAreCollectedTogether) {
  const temp_dir dir;
  const auto file = dir.write("p.yaml", "executor:\n  slotz: 2\nlog:\n  level: loud\n");
  const auto result = load({.file = file,
                            .environment = {{"P2PFAAS_HTTP_MAX_BODY_BYTES", "abc"}},
                            .overrides = {{"node.listen", "nowhere"}, {"bogus.key", "1"}}});
  EXPECT_EQ(rendered(result.errors),
            (std::vector<std::string>{
                "executor.slotz: unknown key",
                "http.max_body_bytes: must be an integer (got \"abc\") (from environment "
                "variable P2PFAAS_HTTP_MAX_BODY_BYTES)",
                "bogus.key: unknown key",
                "node.listen: must be HOST:PORT or [IPV6]:PORT with port 0..65535 (got "
                "\"nowhere\")",
                "log.level: must be one of trace, debug, info, warn, error (got \"loud\")",
            }));

  // A broken file does not hide the other layers' problems.
  const auto broken = dir.write("broken.yaml", "a: [\n");
  const auto both = load({.file = broken, .overrides = {{"executor.slots", "0"}}});
  ASSERT_EQ(both.errors.size(), 2U);
  EXPECT_TRUE(both.errors[0].message.starts_with(broken.string() + ":")) << both.errors[0].message;
  EXPECT_EQ(both.errors[1].to_string(), "executor.slots: must be >= 1 (got 0)");
}

}  // namespace
}  // namespace p2pfaas::config
