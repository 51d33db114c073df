#include "bench/experiment.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/temp_dir.hpp"

namespace p2pfaas::bench {
namespace {

scenario two_nodes() {
  scenario value;
  value.cluster.nodes = 2;
  value.workloads = {{"sleep", "sleep", {{"ms", "5"}}, 3, 0.1}, {"echo", "echo", {}, 1, 0}};
  value.load.rates = {100, 20};
  value.duration_seconds = 20;
  value.warmup_seconds = 5;
  value.seed = 7;
  value.policies = {{"NoScheduler", {"false"}}, {"CentralJSQ", {}}};
  return value;
}

TEST(PlanCalls, FollowsEachNodesRateInTimeOrder) {
  const scenario value = two_nodes();
  const auto plan = plan_calls(value, {100, 20}, {0, 1}, 0, 0);
  std::size_t per_node[2] = {0, 0}, per_workload[2] = {0, 0};
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (i > 0) {
      EXPECT_LE(plan[i - 1].at, plan[i].at);
    }
    EXPECT_LT(plan[i].at, 25.0);
    ++per_node[plan[i].node];
    ++per_workload[plan[i].workload];
  }
  // 25 s at 100/s and 20/s: Poisson counts, within 5 standard deviations.
  EXPECT_NEAR(static_cast<double>(per_node[0]), 2500, 5 * std::sqrt(2500));
  EXPECT_NEAR(static_cast<double>(per_node[1]), 500, 5 * std::sqrt(500));
  // Weights 3:1.
  const double share = static_cast<double>(per_workload[0]) / static_cast<double>(plan.size());
  EXPECT_NEAR(share, 0.75, 0.03);
}

TEST(PlanCalls, SameSeedSamePlanAndRepetitionsDiffer) {
  const scenario value = two_nodes();
  const auto a = plan_calls(value, {100, 20}, {0, 1}, 0, 0);
  const auto b = plan_calls(value, {100, 20}, {0, 1}, 0, 0);
  const auto c = plan_calls(value, {100, 20}, {0, 1}, 1, 0);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].at, b[i].at);
    EXPECT_EQ(a[i].node, b[i].node);
    EXPECT_EQ(a[i].workload, b[i].workload);
  }
  EXPECT_TRUE(a.size() != c.size() || a.front().at != c.front().at);
}

TEST(PlanCalls, RequestLimitKeepsTheWarmupAndThatManyMeasuredCalls) {
  const scenario value = two_nodes();
  const auto plan = plan_calls(value, {100, 20}, {0}, 0, 200);
  std::size_t measured = 0;
  for (const auto& call : plan) {
    EXPECT_EQ(call.workload, 0u);
    if (call.at >= value.warmup_seconds) ++measured;
  }
  EXPECT_EQ(measured, 200u);
  EXPECT_GT(plan.size(), 200u);  // and the warm-up calls before them
}

TEST(PlanCalls, ATraceScalesEachNodesRate) {
  scenario value = two_nodes();
  value.load.arrivals = arrival_kind::trace;
  value.load.trace_steps = {{0, 10}, {10, 0}};  // 10/s for 10 s, then nothing
  const auto plan = plan_calls(value, {2, 1}, {0}, 0, 0);
  std::size_t per_node[2] = {0, 0};
  for (const auto& call : plan) {
    EXPECT_LT(call.at, 10.0);
    ++per_node[call.node];
  }
  EXPECT_NEAR(static_cast<double>(per_node[0]), 200, 5 * std::sqrt(200));
  EXPECT_NEAR(static_cast<double>(per_node[1]), 100, 5 * std::sqrt(100));
}

TEST(PlanRuns, EveryPolicyPerRepetitionOrEveryProfilePerWorkload) {
  scenario value = two_nodes();
  value.repetitions = 2;
  auto runs = plan_runs(value);
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].policy.name, "NoScheduler");
  EXPECT_EQ(runs[1].policy.name, "CentralJSQ");
  EXPECT_EQ(runs[2].repetition, 1);
  EXPECT_EQ(runs[0].workloads, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(runs[1].label(), "CentralJSQ #1");

  value.repetitions = 1;
  value.policies = {{"CentralJSQ", {}}};
  value.runs = workload_runs::each;
  profile_spec a, b;
  a.name = "A";
  b.name = "B";
  value.profiles = {a, b};
  runs = plan_runs(value);
  ASSERT_EQ(runs.size(), 6u);  // 2 workloads x (the policy + 2 profiles)
  EXPECT_FALSE(runs[0].profile.has_value());
  EXPECT_EQ(runs[1].profile->name, "A");
  EXPECT_EQ(runs[1].policy.name, value.profile_policy.name);
  EXPECT_EQ(runs[2].profile->name, "B");
  EXPECT_EQ(runs[3].workloads, (std::vector<std::size_t>{1}));
}

TEST(ScoreRuns, ComparesLatencyCostAndSecurityWithinAWorkload) {
  run_result fast, slow, policy;
  fast.profile = "fast";
  slow.profile = "slow";
  fast.workload = slow.workload = policy.workload = "compute";
  fast.deadline_met_ratio = slow.deadline_met_ratio = 1;
  fast.latency_ms.p95 = 10;
  slow.latency_ms.p95 = 20;
  fast.cost = 2;
  slow.cost = 1;
  fast.security_score = 4;
  slow.security_score = 8;
  policy.policy = "NoScheduler";
  policy.deadline_met_ratio = 0.5;
  policy.latency_ms.p95 = 40;  // not compared with the profiles
  std::vector<run_result> runs = {fast, slow, policy};
  score_runs(runs);
  EXPECT_DOUBLE_EQ(runs[0].composite_score, 100 * (0.5 * 1 + 0.25 * 0.5 + 0.25 * 0.4));
  EXPECT_DOUBLE_EQ(runs[1].composite_score, 100 * (0.5 * 0.5 + 0.25 * 1 + 0.25 * 0.8));
  EXPECT_DOUBLE_EQ(runs[2].composite_score, 100 * 0.5 * 1);  // latency term alone, times met
}

TEST(Endpoints, UrlsAndHostPorts) {
  EXPECT_EQ(parse_endpoint("http://10.0.0.2:18080/")->text(), "10.0.0.2:18080");
  EXPECT_EQ(parse_endpoint("edge-1:80")->host, "edge-1");
  EXPECT_EQ(parse_endpoint("[::1]:18080")->host, "::1");
  for (const char* bad : {"10.0.0.2", "10.0.0.2:0", "10.0.0.2:70000", ":80", "::1:80", "h:8x"}) {
    EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
  }
}

// Names are resolved once, at start: control and load calls then connect to addresses only.
TEST(Endpoints, NamesResolveOnceToAnAddress) {
  EXPECT_FALSE(to_tcp(endpoint{"localhost", 18080}).has_value());
  const auto local = resolve(endpoint{"localhost", 18080});
  ASSERT_TRUE(local.has_value());
  EXPECT_TRUE(to_tcp(*local).has_value()) << local->host;
  EXPECT_EQ(local->port, 18080);
  EXPECT_EQ(resolve(endpoint{"10.0.0.2", 80})->text(), "10.0.0.2:80");
}

// The bench prints "wrote ..." only when the files are there: a file it cannot write is an error
// naming it, not a silent gap in the results.
TEST(WriteOutputs, AFileThatCannotBeWrittenIsAnError) {
  testing::temp_dir dir;
  std::filesystem::create_directories(dir / "report.json" / "taken");  // a directory in its place
  try {
    write_outputs(dir.path(), {}, {}, nlohmann::json::object(), "");
    FAIL() << "wrote nothing and said nothing";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("report.json"), std::string::npos) << e.what();
  }
}

TEST(SummaryTable, MediansOverRepetitions) {
  std::vector<run_result> runs(3);
  for (int i = 0; i < 3; ++i) {
    runs[i].policy = "PowerOfNScheduler";
    runs[i].workload = "sleep";
    runs[i].repetition = i;
    runs[i].deadline_met_ratio = 0.5 + 0.1 * i;  // median 0.6
  }
  const std::string table = summary_table(runs);
  EXPECT_NE(table.find("PowerOfNScheduler"), std::string::npos) << table;
  EXPECT_NE(table.find("0.600"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2) << table;
}

}  // namespace
}  // namespace p2pfaas::bench
