#include "bench/results.hpp"

#include <gtest/gtest.h>

namespace p2pfaas::bench {
namespace {

run_result sample() {
  run_result r;
  r.policy = "PowerOfNScheduler [\"2\",\"2\",\"false\",\"1\"]";
  r.workload = "sleep";
  r.requests = 10;
  r.ok = 7;
  r.rejected = 2;
  r.errors = 1;
  r.deadline_met_ratio = 0.6;
  r.throughput_rps = 3.5;
  r.goodput_rps = 3;
  r.duration_seconds = 2;
  r.latency_ms = {7, 21.5, 20, 40, 41, 41};
  return r;
}

TEST(Results, CountsMustAddUp) {
  run_result r = sample();
  EXPECT_EQ(check_counts(r), "");
  r.errors = 0;
  EXPECT_EQ(check_counts(r),
            "run PowerOfNScheduler [\"2\",\"2\",\"false\",\"1\"]/sleep: ok 7 + rejected 2 + "
            "errors 0 != requests 10");
}

TEST(Results, ReportHasTheFieldsOfTheApi) {
  const nlohmann::json report = report_json({sample()}, {{"name", "smoke"}});
  EXPECT_EQ(report["scenario"]["name"], "smoke");
  const nlohmann::json& run = report["runs"][0];
  for (const char* key : {"policy", "profile", "workload", "requests", "ok", "rejected",
                          "deadline_met_ratio", "forwarded_ratio", "throughput_rps", "latency_ms",
                          "cpu_percent", "rss_mb", "cost", "security_score", "composite_score"}) {
    EXPECT_TRUE(run.contains(key)) << key;
  }
  EXPECT_EQ(run["latency_ms"],
            nlohmann::json({{"p50", 20}, {"p95", 40}, {"p99", 41}, {"mean", 21.5}}));
  EXPECT_EQ(run["requests"], 10);
}

TEST(Results, CsvQuotesWhatNeedsItAndKeepsNumbersExact) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  const std::string csv = metrics_csv({sample()});
  const auto newline = csv.find('\n');
  EXPECT_EQ(csv.substr(0, csv.find(',')), "policy");
  EXPECT_EQ(csv.substr(newline + 1),
            "\"PowerOfNScheduler [\"\"2\"\",\"\"2\"\",\"\"false\"\",\"\"1\"\"]\",,sleep,0,10,7,2,1,"
            "0.6,0,3.5,3,2,20,40,41,21.5,0,0,0,0,0\n");
}

}  // namespace
}  // namespace p2pfaas::bench
