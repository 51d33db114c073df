// /metrics parses with the reference Prometheus parser and its counters follow the calls.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;

// Every sample, keyed "name{label=value,...}" with labels sorted, as the parser read them.
json parsed_metrics(std::uint16_t port) {
  auto r = http_get(port, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  temp_dir dir;
  auto file = dir.write("metrics.txt", r.body);
  auto parsed =
      run_command({"/usr/bin/python3", source_path("tests/integration/parse_metrics.py").string(),
                   file.string()});
  EXPECT_EQ(parsed.exit_code, 0) << parsed.output;
  return json::parse(parsed.output);
}

double sample(const json& samples, const std::string& key) {
  return samples.contains(key) ? samples[key].get<double>() : 0.0;
}

TEST(Metrics, ParsesAndCountersMoveWithCalls) {
  daemon_process node({"--slots", "1", "--queue", "0"});
  const json before = parsed_metrics(node.port());
  EXPECT_GT(sample(before, "process_resident_memory_bytes{}"), 0);
  EXPECT_GT(sample(before, "process_start_time_seconds{}"), 1.7e9);
  EXPECT_EQ(sample(before, "p2pfaas_slots{}"), 1);

  for (int i = 0; i < 3; ++i) ASSERT_EQ(http_get(node.port(), "/function/echo").status, 200);
  ASSERT_EQ(http_get(node.port(), "/function/sleep?ms=x").status, 400);
  ASSERT_EQ(http_get(node.port(), "/function/echo", {{"X-P2pfaas-Scheduler-Reject", "1"}}).status,
            503);
  ASSERT_EQ(http_get(node.port(), "/function/echo", {{"X-P2pfaas-Deadline-Seconds", "5"}}).status,
            200);

  const json after = parsed_metrics(node.port());
  EXPECT_EQ(sample(after, "p2pfaas_calls_total{function=echo,outcome=ok,where=local}"), 4);
  EXPECT_EQ(sample(after, "p2pfaas_calls_total{function=sleep,outcome=client_error,where=local}"),
            1);
  EXPECT_EQ(sample(after, "p2pfaas_calls_total{function=echo,outcome=rejected,where=none}"), 1);
  EXPECT_EQ(sample(after, "p2pfaas_calls_deadline_total{function=echo,met=true}"), 1);
  EXPECT_EQ(sample(after, "p2pfaas_call_duration_seconds_count{function=echo}"), 5);
  EXPECT_EQ(sample(after, "p2pfaas_call_duration_seconds_bucket{function=echo,le=+Inf}"), 5);
  EXPECT_EQ(sample(after, "p2pfaas_function_cold_starts_total{function=echo}") +
                sample(after, "p2pfaas_function_warm_starts_total{function=echo}"),
            4);
  EXPECT_GE(sample(after, "process_cpu_seconds_total{}"),
            sample(before, "process_cpu_seconds_total{}"));
  EXPECT_EQ(sample(after, "p2pfaas_calls_in_flight{}"), 0);
}

}  // namespace
}  // namespace p2pfaas::testing
