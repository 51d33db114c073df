#include "bench/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/daemon_process.hpp"
#include "tests/support/temp_dir.hpp"

namespace p2pfaas::bench {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

std::vector<std::string> lines(const config::problems& errors) {
  std::vector<std::string> out;
  for (const auto& p : errors) out.push_back(p.to_string());
  return out;
}

std::string joined(const config::problems& errors) {
  std::string out;
  for (const auto& line : lines(errors)) out += line + "\n";
  return out;
}

bool has_line(const config::problems& errors, const std::string& line) {
  const auto all = lines(errors);
  return std::find(all.begin(), all.end(), line) != all.end();
}

bool has_path(const config::problems& errors, const std::string& path) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const config::problem& p) { return p.path == path; });
}

// The smallest valid scenario, to which each test adds or changes one thing.
constexpr const char* minimal = R"(workloads:
  - function: sleep
policies:
  - name: NoScheduler
)";

constexpr const char* valid_profile = R"(name: Test Platform
description: a profile for the tests
slots: 3
queue: 7
memory_limit_mb: 256
per_call_overhead_ms: 1.5
cold_start_ms: 40
keep_alive_seconds: 120
replicas: 2
price_per_gb_second: 0.0000166667
price_per_request: 0.0000002
security_score: 7.5
security_rubric:
  isolation boundary: 3 of 3, a VM per instance
sources:
  slots: emulated
  queue: emulated
  memory_limit_mb: emulated
  per_call_overhead_ms: emulated
  cold_start_ms: a paper
  keep_alive_seconds: emulated
  replicas: emulated
  price_per_gb_second: a price list
  price_per_request: a price list
  security_score: the rubric
emulated: [slots, queue, replicas]
)";

TEST(Scenario, FullFileGivesTheStruct) {
  temp_dir dir;
  fs::create_directories(dir / "profiles");
  fs::create_directories(dir / "traces");
  dir.write("profiles/test.yaml", valid_profile);
  dir.write("traces/day.csv", "seconds,rate\n0,1\n5,2.5\n");
  dir.write("cluster.key", "0123456789abcdef0123456789abcdef\n");
  const auto file = dir.write("full.yaml", R"(# a comment
name: full
description: every field
cluster:
  nodes: 4
  slots: 3
  queue: 9
  key: cluster.key
  seed: 42
  settings:
    log.level: debug
    executor:
      timeout_seconds: 5
workloads:
  - name: short
    function: sleep
    parameters: {mean_ms: 20, tag: x}
    weight: 3
    deadline_seconds: 0.1
  - function: compute
    parameters:
      n: 250000
runs: each
load:
  arrivals: trace
  rates: [160, 40, 40.5, 0]
  trace: traces/day.csv
  requests: 500
  timeout_seconds: 2.5
duration_seconds: 20
warmup_seconds: 10
repetitions: 3
seed: 7
policies:
  - name: PowerOfNScheduler
    parameters: ["2", "1", "false", "1"]
  - name: CentralJSQ
profiles:
  - profiles/test.yaml
profile_policy:
  name: ForwardScheduler
  parameters: ["1"]
)");
  const auto result = read_scenario(file);
  ASSERT_TRUE(result.value) << joined(result.errors);
  const scenario& s = *result.value;
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "every field");
  EXPECT_EQ(s.file, file);
  EXPECT_EQ(s.cluster.nodes, 4);
  EXPECT_EQ(s.cluster.slots, 3);
  EXPECT_EQ(s.cluster.queue, 9);
  EXPECT_EQ(s.cluster.key, (dir / "cluster.key").string());
  EXPECT_EQ(s.cluster.seed, 42U);
  const std::map<std::string, std::string> settings = {{"executor.timeout_seconds", "5"},
                                                       {"log.level", "debug"}};
  EXPECT_EQ(s.cluster.settings, settings);
  ASSERT_EQ(s.workloads.size(), 2U);
  EXPECT_EQ(s.workloads[0].name, "short");
  EXPECT_EQ(s.workloads[0].function, "sleep");
  const std::map<std::string, std::string> parameters = {{"mean_ms", "20"}, {"tag", "x"}};
  EXPECT_EQ(s.workloads[0].parameters, parameters);
  EXPECT_EQ(s.workloads[0].weight, 3);
  EXPECT_EQ(s.workloads[0].deadline_seconds, 0.1);
  EXPECT_EQ(s.workloads[1].name, "compute");  // defaults to the function
  EXPECT_EQ(s.workloads[1].parameters.at("n"), "250000");
  EXPECT_EQ(s.workloads[1].weight, 1);
  EXPECT_EQ(s.workloads[1].deadline_seconds, 0);
  EXPECT_EQ(s.runs, workload_runs::each);
  EXPECT_EQ(s.load.arrivals, arrival_kind::trace);
  EXPECT_EQ(s.load.rates, (std::vector<double>{160, 40, 40.5, 0}));
  EXPECT_EQ(s.load.trace, dir / "traces/day.csv");
  EXPECT_EQ(s.load.trace_steps, (std::vector<rate_step>{{0, 1}, {5, 2.5}}));
  EXPECT_EQ(s.load.closed_loop_clients, 0);
  EXPECT_EQ(s.load.requests, 500U);
  EXPECT_EQ(s.load.timeout_seconds, 2.5);
  EXPECT_EQ(s.duration_seconds, 20);
  EXPECT_EQ(s.warmup_seconds, 10);
  EXPECT_EQ(s.repetitions, 3);
  EXPECT_EQ(s.seed, 7U);
  ASSERT_EQ(s.policies.size(), 2U);
  EXPECT_EQ(s.policies[0].name, "PowerOfNScheduler");
  EXPECT_EQ(s.policies[0].parameters, (std::vector<std::string>{"2", "1", "false", "1"}));
  EXPECT_EQ(s.policies[1].name, "CentralJSQ");
  EXPECT_TRUE(s.policies[1].parameters.empty());
  EXPECT_EQ(s.profile_policy.name, "ForwardScheduler");
  EXPECT_EQ(s.profile_policy.parameters, (std::vector<std::string>{"1"}));

  ASSERT_EQ(s.profiles.size(), 1U);
  const profile_spec& p = s.profiles[0];
  EXPECT_EQ(p.name, "Test Platform");
  EXPECT_EQ(p.description, "a profile for the tests");
  EXPECT_EQ(p.file, dir / "profiles/test.yaml");
  EXPECT_EQ(p.slots, 3);
  EXPECT_EQ(p.queue, 7);
  EXPECT_EQ(p.memory_limit_mb, 256);
  EXPECT_EQ(p.per_call_overhead_ms, 1.5);
  EXPECT_EQ(p.cold_start_ms, 40);
  EXPECT_EQ(p.keep_alive_seconds, 120);
  EXPECT_EQ(p.replicas, 2);
  EXPECT_EQ(p.price_per_gb_second, 0.0000166667);
  EXPECT_EQ(p.price_per_request, 0.0000002);
  EXPECT_EQ(p.security_score, 7.5);
  EXPECT_EQ(p.security_rubric.at("isolation boundary"), "3 of 3, a VM per instance");
  EXPECT_EQ(p.sources.size(), 10U);
  EXPECT_EQ(p.sources.at("cold_start_ms"), "a paper");
  EXPECT_EQ(p.emulated, (std::vector<std::string>{"slots", "queue", "replicas"}));
}

TEST(Scenario, Defaults) {
  temp_dir dir;
  const auto result = read_scenario(dir.write("little.yaml", minimal));
  ASSERT_TRUE(result.value) << joined(result.errors);
  const scenario& s = *result.value;
  EXPECT_EQ(s.name, "little");  // the file's stem
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.cluster.nodes, 3);
  EXPECT_EQ(s.cluster.slots, 2);
  EXPECT_EQ(s.cluster.queue, 16);
  EXPECT_EQ(s.cluster.key, "generate");
  EXPECT_EQ(s.cluster.seed, 1U);
  EXPECT_TRUE(s.cluster.settings.empty());
  ASSERT_EQ(s.workloads.size(), 1U);
  EXPECT_EQ(s.workloads[0].name, "sleep");
  EXPECT_EQ(s.workloads[0].weight, 1);
  EXPECT_EQ(s.runs, workload_runs::together);
  EXPECT_EQ(s.load.arrivals, arrival_kind::poisson);
  EXPECT_EQ(s.load.rates, std::vector<double>{10});
  EXPECT_TRUE(s.load.trace.empty());
  EXPECT_EQ(s.load.closed_loop_clients, 0);
  EXPECT_EQ(s.load.requests, 0U);
  EXPECT_EQ(s.load.timeout_seconds, 10);
  EXPECT_EQ(s.duration_seconds, 10);
  EXPECT_EQ(s.warmup_seconds, 2);
  EXPECT_EQ(s.repetitions, 1);
  EXPECT_EQ(s.seed, 1U);
  ASSERT_EQ(s.policies.size(), 1U);
  EXPECT_TRUE(s.policies[0].parameters.empty());
  EXPECT_TRUE(s.profiles.empty());
  EXPECT_EQ(s.profile_policy.name, "NoScheduler");
  EXPECT_EQ(s.profile_policy.parameters, std::vector<std::string>{"false"});
}

struct bad_case {
  std::string yaml;  // appended to `minimal` (later keys replace earlier ones)
  std::string expected;
};

TEST(Scenario, EachBadFieldNamesItsPathAndRule) {
  const std::vector<bad_case> cases = {
      {"cluster: {nodes: 0}", "cluster.nodes: must be >= 1 (got 0)"},
      {"cluster: {nodes: 65}", "cluster.nodes: must be <= 64 (got 65)"},
      {"cluster: {nodes: two}", "cluster.nodes: must be an integer (got \"two\")"},
      {"cluster: {nodes: 2.5}", "cluster.nodes: must be an integer (got \"2.5\")"},
      {"cluster: {slots: 0}", "cluster.slots: must be >= 1 (got 0)"},
      {"cluster: {queue: -1}", "cluster.queue: must be >= 0 (got -1)"},
      {"cluster: {seed: 0}", "cluster.seed: must be >= 1 (got 0)"},
      {"cluster: {key: no-such.key}", "cluster.key: no key file "},
      {"cluster: {settings: {executor.slots: 4}}",
       "cluster.settings.executor.slots: set by the bench: use cluster.slots"},
      {"cluster: {settings: {log.levle: warn}}", "cluster.settings.log.levle: unknown key"},
      // The bench finds each node's port in its info log line (a node logging only warnings
      // could never be found: the first version waited 15 s and gave up).
      {"cluster: {settings: {log.level: warn}}",
       "cluster.settings.log.level: must be trace, debug or info (got \"warn\"): the bench reads "
       "each node's port from its \"listening on\" line, logged at info"},
      {"cluster: {settings: {executor.timeout_seconds: -1}}",
       "cluster.settings.executor.timeout_seconds: must be > 0 (got -1)"},
      {"cluster: 3", "cluster: must be an object (got \"3\")"},
      {"workloads: []", "workloads: must list at least one workload"},
      {"workloads: [{name: x}]", "workloads[0].function: missing"},
      {"workloads: [{function: 'sl eep'}]",
       "workloads[0].function: may contain only letters, digits, '_' and '-' (got \"sl eep\")"},
      {"workloads: [{function: sleep, weight: 0}]", "workloads[0].weight: must be > 0 (got 0)"},
      {"workloads: [{function: sleep, deadline_seconds: -0.5}]",
       "workloads[0].deadline_seconds: must be >= 0 (got -0.5)"},
      {"workloads: [{function: sleep}, {function: sleep}]",
       "workloads[1].name: \"sleep\" is also workloads[0]'s name (names must be unique; a name "
       "defaults to the function)"},
      {"workloads: [{function: sleep, parameters: {ms: [1, 2]}}]",
       "workloads[0].parameters.ms: must be a string, number or bool (got [\"1\",\"2\"])"},
      {"runs: both", "runs: must be one of together, each (got \"both\")"},
      {"load: {arrivals: posson}",
       "load.arrivals: must be one of poisson, constant, trace (got \"posson\")"},
      {"load: {rates: [1, 2, -1]}", "load.rates[2]: must be >= 0 (got -1)"},
      {"load: {rates: [1, 2]}",
       "load.rates: must have 1 value (the same for every node) or cluster.nodes (3) values, one "
       "per node of the launched cluster (got 2)"},
      {"load: {rates: [0, 0, 0]}", "load.rates: must not all be 0 (no call would be sent)"},
      {"load: {rates: fast}", "load.rates: must be a number or a list of numbers (got \"fast\")"},
      {"load: {arrivals: trace}",
       "load.trace: missing (load.arrivals: trace needs a \"seconds,rate\" CSV)"},
      {"load: {trace: day.csv}", "load.trace: only used with load.arrivals: trace"},
      {"load: {closed_loop_clients: 1001}", "load.closed_loop_clients: must be <= 1000 (got 1001)"},
      {"load: {closed_loop_clients: 2, rates: [5]}",
       "load.rates: not used by a closed loop (load.closed_loop_clients > 0): remove it or set "
       "closed_loop_clients to 0"},
      {"load: {timeout_seconds: 0}", "load.timeout_seconds: must be > 0 (got 0)"},
      {"load: {requests: -3}", "load.requests: must be >= 0 (got -3)"},
      {"duration_seconds: 0", "duration_seconds: must be > 0 (got 0)"},
      {"duration_seconds: 3601", "duration_seconds: must be <= 3600 (got 3601)"},
      {"duration_seconds: inf", "duration_seconds: must be a number (got \"inf\")"},
      {"warmup_seconds: -1", "warmup_seconds: must be >= 0 (got -1)"},
      {"repetitions: 0", "repetitions: must be >= 1 (got 0)"},
      {"repetitions: 101", "repetitions: must be <= 100 (got 101)"},
      {"seed: -1", "seed: must be an integer from 0 to 18446744073709551615 (got \"-1\")"},
      {"policies: []",
       "policies: empty: list at least one policy (policies:) or platform profile (profiles:) to "
       "compare"},
      {"policies: [{name: NoScheduler}, {parameters: ['1']}]", "policies[1].name: missing"},
      {"policies: [{name: ''}]", "policies[0].name: must not be empty"},
      {"policies: [{name: CentralJSQ, parameters: ['1']}]",
       "policies[0].parameters: must be empty for CentralJSQ (the bench dispatches; nodes run "
       "NoScheduler)"},
      {"policies: [{name: NoScheduler}, {name: NoScheduler}]",
       "policies[1]: same policy and parameters as policies[0]"},
      {"policies: [{name: NoScheduler, parameters: [[1]]}]",
       "policies[0].parameters[0]: must be a string (got [\"1\"])"},
      {"profile_policy: {name: NoScheduler}",
       "profile_policy: only used with profiles (profiles: is missing)"},
      {"profiles: ['']", "profiles[0]: must be the path of a profile file (got \"\")"},
  };
  for (const auto& c : cases) {
    temp_dir dir;
    const auto result = read_scenario(dir.write("bad.yaml", std::string(minimal) + c.yaml + "\n"));
    EXPECT_FALSE(result.value) << c.yaml;
    const auto all = lines(result.errors);
    const bool found = std::any_of(all.begin(), all.end(), [&](const std::string& line) {
      return line == c.expected || (c.expected.back() == ' ' && line.starts_with(c.expected));
    });
    EXPECT_TRUE(found) << c.yaml << "\nexpected: " << c.expected << "\ngot:\n"
                       << joined(result.errors);
  }
}

TEST(Scenario, ReportsEveryProblemAtOnce) {
  temp_dir dir;
  const auto result = read_scenario(dir.write("many.yaml", R"(cluster:
  nodes: 0
  slots: x
workloads:
  - function: sleep
    weight: -1
  - name: second
load:
  rates: [1, -2, 3]
duration_seconds: 0
policies:
  - name: NoScheduler
  - parameters: ["1"]
)"));
  EXPECT_FALSE(result.value);
  EXPECT_TRUE(has_line(result.errors, "cluster.nodes: must be >= 1 (got 0)"))
      << joined(result.errors);
  EXPECT_TRUE(has_line(result.errors, "cluster.slots: must be an integer (got \"x\")"));
  EXPECT_TRUE(has_line(result.errors, "workloads[0].weight: must be > 0 (got -1)"));
  EXPECT_TRUE(has_line(result.errors, "workloads[1].function: missing"));
  EXPECT_TRUE(has_line(result.errors, "load.rates[1]: must be >= 0 (got -2)"));
  EXPECT_TRUE(has_line(result.errors, "duration_seconds: must be > 0 (got 0)"));
  EXPECT_TRUE(has_line(result.errors, "policies[1].name: missing"));
  EXPECT_EQ(result.errors.size(), 7U) << joined(result.errors);
}

TEST(Scenario, UnknownKeysAreErrors) {
  temp_dir dir;
  const auto result = read_scenario(dir.write("typo.yaml", std::string(minimal) + R"(cluster:
  nodez: 4
lod:
  rates: [1]
)"));
  EXPECT_FALSE(result.value);
  EXPECT_TRUE(has_line(result.errors, "cluster.nodez: unknown key")) << joined(result.errors);
  EXPECT_TRUE(has_line(result.errors, "lod: unknown key"));
  EXPECT_EQ(result.errors.size(), 2U) << joined(result.errors);
}

TEST(Scenario, MissingWorkloadsAndPolicies) {
  temp_dir dir;
  const auto result = read_scenario(dir.write("empty.yaml", "# nothing yet\n"));
  EXPECT_FALSE(result.value);
  EXPECT_TRUE(has_line(result.errors, "workloads: missing (at least one function to call)"))
      << joined(result.errors);
  EXPECT_TRUE(has_line(result.errors,
                       "policies: missing: list at least one policy (policies:) or platform "
                       "profile (profiles:) to compare"));
}

TEST(Scenario, YamlSyntaxErrorNamesTheLine) {
  temp_dir dir;
  const auto file = dir.write("broken.yaml", "workloads:\n  - function: sleep\npolicies: [\n");
  const auto result = read_scenario(file);
  EXPECT_FALSE(result.value);
  ASSERT_EQ(result.errors.size(), 1U) << joined(result.errors);
  EXPECT_EQ(result.errors[0].path, "");
  EXPECT_TRUE(result.errors[0].message.starts_with(file.string() + ":4:"))
      << result.errors[0].message;
  EXPECT_NE(result.errors[0].message.find("YAML syntax error"), std::string::npos);
}

TEST(Scenario, MissingScenarioFile) {
  temp_dir dir;
  const auto result = read_scenario(dir / "nothing.yaml");
  EXPECT_FALSE(result.value);
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_NE(result.errors[0].message.find("No such file"), std::string::npos);
}

TEST(Scenario, MissingProfileFileIsReportedUnderItsIndex) {
  temp_dir dir;
  dir.write("good.yaml", valid_profile);
  const auto result = read_scenario(dir.write("s.yaml", R"(workloads: [{function: compute}]
profiles:
  - good.yaml
  - missing.yaml
)"));
  EXPECT_FALSE(result.value);
  ASSERT_EQ(result.errors.size(), 1U) << joined(result.errors);
  EXPECT_EQ(result.errors[0].path, "profiles[1]");
  EXPECT_NE(result.errors[0].message.find((dir / "missing.yaml").string()), std::string::npos);
  EXPECT_NE(result.errors[0].message.find("No such file"), std::string::npos);
}

TEST(Scenario, ProfilesRunWithTheDefaultProfilePolicy) {
  temp_dir dir;
  dir.write("p.yaml", valid_profile);
  const auto result = read_scenario(dir.write("s.yaml", R"(workloads: [{function: compute}]
profiles: [p.yaml]
)"));
  ASSERT_TRUE(result.value) << joined(result.errors);
  EXPECT_TRUE(result.value->policies.empty());
  ASSERT_EQ(result.value->profiles.size(), 1U);
}

TEST(Scenario, ProfileKnobsCannotBeSetForTheCluster) {
  temp_dir dir;
  dir.write("p.yaml", valid_profile);
  const auto result = read_scenario(dir.write("s.yaml", R"(cluster:
  settings: {executor.cold_start_ms: 5, executor.timeout_seconds: 5}
workloads: [{function: compute}]
profiles: [p.yaml]
)"));
  EXPECT_FALSE(result.value);
  ASSERT_EQ(result.errors.size(), 1U) << joined(result.errors);
  EXPECT_EQ(result.errors[0].path, "cluster.settings.executor.cold_start_ms");
}

TEST(Profile, EveryNumberNeedsASource) {
  temp_dir dir;
  const auto file = dir.write("p.yaml", R"(name: Unsourced
cold_start_ms: 40
slots: 2
sources:
  slots: emulated
)");
  config::problems errors;
  EXPECT_FALSE(read_profile(file, "profiles[0]", errors));
  ASSERT_EQ(errors.size(), 1U) << joined(errors);
  EXPECT_EQ(errors[0].to_string(),
            "profiles[0].sources.cold_start_ms: missing (every number names its source)");
}

TEST(Profile, SourcesAndEmulatedMustNameFieldsTheProfileSets) {
  temp_dir dir;
  const auto file = dir.write("p.yaml", R"(slots: 2
security_score: 11
sources:
  slots: emulated
  security_score: the rubric
  cold_start: typo
  queue: not set
emulated: [slots, price_per_request, queue, slots]
bogus: 1
)");
  config::problems errors;
  EXPECT_FALSE(read_profile(file, "", errors));
  EXPECT_TRUE(has_line(errors, "security_score: must be <= 10 (got 11)")) << joined(errors);
  EXPECT_TRUE(has_path(errors, "sources.cold_start"));
  EXPECT_TRUE(
      has_line(errors, "sources.queue: names the source of queue, which the profile does not set"));
  EXPECT_TRUE(has_path(errors, "emulated[1]"));
  EXPECT_TRUE(has_line(errors, "emulated[2]: queue is not set in the profile"));
  EXPECT_TRUE(has_line(errors, "emulated[3]: slots is listed twice"));
  EXPECT_TRUE(has_line(errors, "bogus: unknown key"));
  EXPECT_EQ(errors.size(), 7U) << joined(errors);
}

TEST(Profile, NameDefaultsToTheStemAndKnobsToTheDaemonDefaults) {
  temp_dir dir;
  const auto file = dir.write("bare_platform.yaml", "description: nothing set\n");
  config::problems errors;
  const auto p = read_profile(file, "x", errors);
  ASSERT_TRUE(p) << joined(errors);
  EXPECT_EQ(p->name, "bare_platform");
  EXPECT_EQ(p->slots, 2);
  EXPECT_EQ(p->replicas, 1);
  EXPECT_EQ(p->file, file);
}

TEST(Scenario, TraceIsReadRelativeToTheScenarioFile) {
  temp_dir dir;
  fs::create_directories(dir / "scenarios/traces");
  dir.write("scenarios/traces/t.csv", "# seconds, rate\n0,2\n10,0\n");
  const auto file = dir.write("scenarios/s.yaml", std::string(minimal) + R"(load:
  arrivals: trace
  trace: traces/t.csv
)");
  const auto result = read_scenario(file);
  ASSERT_TRUE(result.value) << joined(result.errors);
  EXPECT_EQ(result.value->load.trace, dir / "scenarios/traces/t.csv");
  EXPECT_EQ(result.value->load.trace_steps, (std::vector<rate_step>{{0, 2}, {10, 0}}));
}

TEST(Scenario, BadTraceIsReportedUnderLoadTrace) {
  temp_dir dir;
  dir.write("t.csv", "seconds,rate\n0,1\n5,-2\n");
  const auto result = read_scenario(dir.write("s.yaml", std::string(minimal) + R"(load:
  arrivals: trace
  trace: t.csv
)"));
  EXPECT_FALSE(result.value);
  ASSERT_EQ(result.errors.size(), 1U) << joined(result.errors);
  EXPECT_EQ(result.errors[0].to_string(),
            "load.trace: " + (dir / "t.csv").string() + ":3: the rate must be >= 0");

  const auto missing = read_scenario(dir.write("m.yaml", std::string(minimal) + R"(load:
  arrivals: trace
  trace: none.csv
)"));
  ASSERT_EQ(missing.errors.size(), 1U) << joined(missing.errors);
  EXPECT_EQ(missing.errors[0].path, "load.trace");
}

TEST(Scenario, JsonHasEveryFieldWithNumbersAsNumbers) {
  temp_dir dir;
  dir.write("p.yaml", valid_profile);
  const auto result = read_scenario(dir.write("s.yaml", R"(name: j
workloads: [{function: sleep, parameters: {ms: 5}, deadline_seconds: 0.1}]
load: {rates: [1, 2, 3]}
policies: [{name: RoundRobinScheduler, parameters: ["1"]}]
profiles: [p.yaml]
)"));
  ASSERT_TRUE(result.value) << joined(result.errors);
  const nlohmann::json j = scenario_json(*result.value);
  EXPECT_EQ(j["name"], "j");
  EXPECT_EQ(j["cluster"]["nodes"], 3);
  EXPECT_TRUE(j["cluster"]["nodes"].is_number());
  EXPECT_EQ(j["cluster"]["key"], "generate");
  EXPECT_EQ(j["workloads"][0]["function"], "sleep");
  EXPECT_EQ(j["workloads"][0]["parameters"]["ms"], "5");
  EXPECT_EQ(j["workloads"][0]["deadline_seconds"], 0.1);
  EXPECT_EQ(j["runs"], "together");
  EXPECT_EQ(j["load"]["arrivals"], "poisson");
  EXPECT_EQ(j["load"]["rates"], nlohmann::json::array({1.0, 2.0, 3.0}));
  EXPECT_EQ(j["duration_seconds"], 10.0);
  EXPECT_EQ(j["repetitions"], 1);
  EXPECT_EQ(j["policies"][0]["name"], "RoundRobinScheduler");
  EXPECT_EQ(j["policies"][0]["parameters"][0], "1");
  EXPECT_EQ(j["profile_policy"]["name"], "NoScheduler");
  const auto& p = j["profiles"][0];
  EXPECT_EQ(p["name"], "Test Platform");
  EXPECT_EQ(p["file"], (dir / "p.yaml").string());
  EXPECT_EQ(p["cold_start_ms"], 40.0);
  EXPECT_EQ(p["slots"], 3);
  EXPECT_EQ(p["security_score"], 7.5);
  EXPECT_EQ(p["sources"]["cold_start_ms"], "a paper");
  EXPECT_EQ(p["emulated"].size(), 3U);
  for (const char* key :
       {"description", "queue", "memory_limit_mb", "per_call_overhead_ms", "keep_alive_seconds",
        "replicas", "price_per_gb_second", "price_per_request", "security_rubric"}) {
    EXPECT_TRUE(p.contains(key)) << key;
  }
}

// The files shipped in bench/: each must read without a problem.
TEST(ShippedFiles, ScenariosAreValid) {
  for (const char* name : {"smoke", "skewed", "profiles"}) {
    const auto file = testing::source_path(std::string("bench/scenarios/") + name + ".yaml");
    const auto result = read_scenario(file);
    EXPECT_TRUE(result.value) << file << "\n" << joined(result.errors);
  }
}

TEST(ShippedFiles, SmokeAndSkewedAreWhatTheyClaim) {
  const auto smoke = read_scenario(testing::source_path("bench/scenarios/smoke.yaml"));
  ASSERT_TRUE(smoke.value) << joined(smoke.errors);
  EXPECT_EQ(smoke.value->cluster.nodes, 3);
  EXPECT_EQ(smoke.value->policies.size(), 6U);
  EXPECT_GE(smoke.value->profiles.size(), 1U);
  // One launched cluster per run at ~1 s each plus warm-up and measurement: well under 60 s.
  const double runs =
      static_cast<double>(smoke.value->policies.size() + smoke.value->profiles.size()) *
      smoke.value->repetitions;
  EXPECT_LE(runs * (1 + smoke.value->warmup_seconds + smoke.value->duration_seconds), 45);

  const auto skewed = read_scenario(testing::source_path("bench/scenarios/skewed.yaml"));
  ASSERT_TRUE(skewed.value) << joined(skewed.errors);
  const scenario& s = *skewed.value;
  EXPECT_GE(s.cluster.nodes, 4);
  EXPECT_EQ(s.cluster.slots, 2);
  ASSERT_EQ(s.workloads.size(), 1U);
  EXPECT_EQ(s.workloads[0].function, "sleep");
  EXPECT_EQ(s.workloads[0].parameters.at("mean_ms"), "20");
  EXPECT_EQ(s.workloads[0].deadline_seconds, 0.1);
  EXPECT_EQ(s.load.rates.size(), static_cast<std::size_t>(s.cluster.nodes));
  EXPECT_EQ(s.policies.size(), 6U);
  const double minutes = static_cast<double>(s.policies.size()) * s.repetitions *
                         (1 + s.warmup_seconds + s.duration_seconds) / 60;
  EXPECT_LE(minutes, 10);
}

TEST(ShippedFiles, ProfilesAreTheFiveModels) {
  const auto result = read_scenario(testing::source_path("bench/scenarios/profiles.yaml"));
  ASSERT_TRUE(result.value) << joined(result.errors);
  const scenario& s = *result.value;
  std::vector<std::string> names;
  for (const auto& p : s.profiles) {
    names.push_back(p.name);
    EXPECT_FALSE(p.emulated.empty()) << p.name;
    EXPECT_FALSE(p.security_rubric.empty()) << p.name;
    EXPECT_GT(p.price_per_gb_second, 0) << p.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"FaaSLight Original", "FaaSLight Enhanced", "SAND++",
                                             "AWS Fargate", "Unikernel"}));
  EXPECT_EQ(s.runs, workload_runs::each);
  EXPECT_EQ(s.load.requests, 200U);
  std::vector<std::string> functions;
  for (const auto& w : s.workloads) functions.push_back(w.function);
  EXPECT_EQ(functions, (std::vector<std::string>{"compute", "io", "memory"}));
}

}  // namespace
}  // namespace p2pfaas::bench
