#include "node/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace p2pfaas::node {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CounterSeriesByLabels) {
  registry r;
  auto& calls = r.counter("calls_total", "Calls.", {"function", "outcome"});
  calls.add({"echo", "ok"});
  calls.add({"echo", "ok"}, 2);
  calls.add({"sleep", "timed_out"});
  EXPECT_EQ(calls.value({"echo", "ok"}), 3);
  EXPECT_EQ(calls.value({"sleep", "timed_out"}), 1);
  EXPECT_EQ(calls.value({"sleep", "ok"}), 0);
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, "# HELP calls_total Calls.")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE calls_total counter"));
  EXPECT_TRUE(has_line(text, R"(calls_total{function="echo",outcome="ok"} 3)"));
  EXPECT_TRUE(has_line(text, R"(calls_total{function="sleep",outcome="timed_out"} 1)"));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  registry r;
  auto& h = r.histogram("latency_seconds", "Latency.", {"function"}, {0.1, 1});
  h.observe({"f"}, 0.05);
  h.observe({"f"}, 0.5);
  h.observe({"f"}, 0.5);
  h.observe({"f"}, 7);
  std::string text = r.render();
  EXPECT_TRUE(has_line(text, R"(latency_seconds_bucket{function="f",le="0.1"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(latency_seconds_bucket{function="f",le="1"} 3)"));
  EXPECT_TRUE(has_line(text, R"(latency_seconds_bucket{function="f",le="+Inf"} 4)"));
  EXPECT_TRUE(has_line(text, R"(latency_seconds_sum{function="f"} 8.05)"));
  EXPECT_TRUE(has_line(text, R"(latency_seconds_count{function="f"} 4)"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), R"(a\"b\\c\nd)");
  registry r;
  r.counter("c_total", "C.", {"name"}).add({"x\"y"});
  EXPECT_NE(r.render().find(R"(c_total{name="x\"y"} 1)"), std::string::npos);
}

TEST(Metrics, ComputedFamiliesAreReadAtScrapeTime) {
  registry r;
  double level = 1;
  r.computed("level", "gauge", "Level.", [&] {
    return std::vector<sample>{{{{"k", "v"}}, level}};
  });
  EXPECT_TRUE(has_line(r.render(), R"(level{k="v"} 1)"));
  level = 2.5;
  EXPECT_TRUE(has_line(r.render(), R"(level{k="v"} 2.5)"));
}

TEST(Metrics, SpecialValues) {
  EXPECT_EQ(format_sample_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_sample_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_sample_value(0.0 / 0.0), "NaN");
  EXPECT_EQ(format_sample_value(42), "42");
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  registry r;
  auto& c = r.counter("c_total", "C.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) c.add({t % 2 ? "odd" : "even"});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value({"odd"}) + c.value({"even"}), 40000);
}

}  // namespace
}  // namespace p2pfaas::node
