#include "bench/dashboard.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <regex>

namespace p2pfaas::bench {
namespace {

using json = nlohmann::json;

run_result run(std::string policy, std::string profile, std::string workload, int repetition,
               double scale) {
  run_result r;
  r.policy = std::move(policy);
  r.profile = std::move(profile);
  r.workload = std::move(workload);
  r.repetition = repetition;
  r.requests = 200;
  r.ok = 180;
  r.rejected = 15;
  r.errors = 5;
  r.deadline_met_ratio = 0.8 / scale;
  r.forwarded_ratio = 0.25;
  r.throughput_rps = 18 * scale;
  r.goodput_rps = 16 * scale;
  r.duration_seconds = 10;
  r.latency_ms = {180, 12.5 * scale, 10 * scale, 40 * scale, 75 * scale, 90 * scale};
  r.cpu_percent = 35.5;
  r.rss_mb = 42;
  r.cost = 0.00125 * scale;
  r.security_score = 3 + scale;
  r.composite_score = 70 / scale;
  return r;
}

run_details details(int nodes, double scale) {
  run_details d;
  for (int i = 1; i <= 20; ++i) d.latency_cdf.emplace_back(scale * i * i / 4.0, i / 20.0);
  for (int n = 0; n < nodes; ++n) {
    d.nodes.push_back("node-" + std::to_string(n));
    std::vector<double> load;
    for (int k = 0; k < 40; ++k) load.push_back(((k * (n + 3)) % 11) / 5.0);
    d.node_load.push_back(std::move(load));
  }
  return d;
}

// Policies on one workload (two repetitions) and profiles on two workloads: every chart has data.
struct sample {
  std::vector<run_result> runs;
  std::vector<run_details> details;
  json scenario = {{"name", "smoke"},
                   {"description", "Policies and profiles, side by side"},
                   {"repetitions", 2},
                   {"duration_seconds", 10}};
};

sample full_sample() {
  sample s;
  const std::string pon = "PowerOfNScheduler [\"2\",\"2\",\"false\",\"1\"]";
  for (int rep = 0; rep < 2; ++rep) {
    s.runs.push_back(run("NoScheduler [\"false\"]", "", "sleep", rep, 1.5 + rep));
    s.runs.push_back(run(pon, "", "sleep", rep, 1 + rep * 0.1));
    s.runs.push_back(run("CentralJSQ", "", "sleep", rep, 0.8 + rep * 0.1));
  }
  for (const char* workload : {"compute", "io"}) {
    const double io = workload == std::string("io") ? 0.7 : 0;
    s.runs.push_back(run("NoScheduler [\"false\"]", "FaaSLight Original", workload, 0, 2 + io));
    s.runs.push_back(run("NoScheduler [\"false\"]", "Hardened", workload, 0, 3 + io));
  }
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    s.details.push_back(details(3, 1 + static_cast<double>(i % 4) / 2));
  }
  return s;
}

// The text of <script type="application/json" id="data">, parsed.
json page_data(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"data\">";
  const auto begin = page.find(open);
  if (begin == std::string::npos) throw std::runtime_error("no data script");
  const auto end = page.find("</script>", begin);
  if (end == std::string::npos) throw std::runtime_error("data script not closed");
  return json::parse(page.substr(begin + open.size(), end - begin - open.size()));
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string vendored_chartjs() {
  std::ifstream in(P2PFAAS_CHARTJS_FILE, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Dashboard, InlinesChartJsAndFetchesNothing) {
  const sample s = full_sample();
  const std::string page = dashboard_html(s.runs, s.details, s.scenario);
  const std::string chartjs = vendored_chartjs();
  ASSERT_GT(chartjs.size(), 100000u);
  EXPECT_NE(page.find(chartjs), std::string::npos) << "the page must hold Chart.js, unchanged";
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  // Nothing that makes the browser fetch: no src= or href= or CSS url() with a URL, no <link>.
  const std::regex fetch(R"re(((src|href)\s*=|url\()\s*["']?\s*([a-z]+:)?//)re", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, fetch));
  EXPECT_EQ(lower(page).find("<link"), std::string::npos);
  EXPECT_EQ(lower(page).find("@import"), std::string::npos);
  EXPECT_EQ(lower(page).find("<script src"), std::string::npos);
}

TEST(Dashboard, DataRoundTrips) {
  const sample s = full_sample();
  const json data = page_data(dashboard_html(s.runs, s.details, s.scenario));
  EXPECT_EQ(data["scenario"], s.scenario);
  ASSERT_EQ(data["runs"].size(), s.runs.size());
  EXPECT_EQ(data["runs"], report_json(s.runs, s.scenario)["runs"]);
  const json& pon = data["runs"][1];
  EXPECT_EQ(pon["policy"], "PowerOfNScheduler [\"2\",\"2\",\"false\",\"1\"]");
  EXPECT_EQ(pon["workload"], "sleep");
  EXPECT_EQ(pon["requests"], 200);
  EXPECT_EQ(pon["errors"], 5);
  EXPECT_DOUBLE_EQ(pon["latency_ms"]["p95"].get<double>(), 40);
  EXPECT_DOUBLE_EQ(pon["goodput_rps"].get<double>(), 16);
  EXPECT_EQ(data["runs"][6]["profile"], "FaaSLight Original");
  ASSERT_EQ(data["details"].size(), s.runs.size());
  const json& d = data["details"][1];
  EXPECT_EQ(d["nodes"], json({"node-0", "node-1", "node-2"}));
  EXPECT_DOUBLE_EQ(d["load_interval_seconds"].get<double>(), 0.25);
  ASSERT_EQ(d["latency_cdf"].size(), 20u);
  EXPECT_DOUBLE_EQ(d["latency_cdf"][19][0].get<double>(), s.details[1].latency_cdf[19].first);
  EXPECT_DOUBLE_EQ(d["latency_cdf"][19][1].get<double>(), 1.0);
  EXPECT_EQ(d["node_load"][2], json(s.details[1].node_load[2]));
}

TEST(Dashboard, MissingDetailsAreNull) {
  const sample s = full_sample();
  const json data = page_data(dashboard_html(s.runs, {s.details[0]}, s.scenario));
  ASSERT_EQ(data["details"].size(), s.runs.size());
  EXPECT_TRUE(data["details"][0].is_object());
  EXPECT_TRUE(data["details"][1].is_null());
}

TEST(Dashboard, NamesCannotBreakOutOfTheDataScript) {
  sample s = full_sample();
  const std::string evil = "</script><script>alert(1)</script><!--<script>";
  s.runs[0].workload = evil;
  s.runs[6].profile = "</SCRIPT ><img src=x onerror=alert(2)>";
  s.details[0].nodes[0] = "<!-- </script";
  s.scenario["name"] = "</script>";
  const std::string page = dashboard_html(s.runs, s.details, s.scenario);
  // Exactly three script elements (Chart.js, the data, the drawing code), each closed once.
  EXPECT_EQ(count(lower(page), "<script"), 3u);
  EXPECT_EQ(count(lower(page), "</script"), 3u);
  EXPECT_EQ(count(page, "<!--"), 0u);
  EXPECT_EQ(lower(page).find("<img"), std::string::npos);
  const json data = page_data(page);
  EXPECT_EQ(data["runs"][0]["workload"], evil);
  EXPECT_EQ(data["runs"][6]["profile"], "</SCRIPT ><img src=x onerror=alert(2)>");
  EXPECT_EQ(data["details"][0]["nodes"][0], "<!-- </script");
  EXPECT_EQ(data["scenario"]["name"], "</script>");
}

TEST(Dashboard, InvalidUtf8DoesNotThrow) {
  sample s = full_sample();
  s.runs[0].workload = "bad \xff\xfe name";
  std::string page;
  EXPECT_NO_THROW(page = dashboard_html(s.runs, s.details, s.scenario));
  EXPECT_EQ(page_data(page)["runs"][0]["workload"], "bad \xEF\xBF\xBD\xEF\xBF\xBD name");
}

TEST(Dashboard, NoRunsStillMakeAPage) {
  const std::string page = dashboard_html({}, {}, json::object());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_EQ(count(lower(page), "</script"), 3u);
  const json data = page_data(page);
  EXPECT_EQ(data["runs"], json::array());
  EXPECT_EQ(data["details"], json::array());
  EXPECT_EQ(data["scenario"], json::object());
  // A null scenario (a caller with nothing to say) too.
  EXPECT_TRUE(page_data(dashboard_html({}, {}, json())).contains("scenario"));
}

TEST(Dashboard, SameInputsSameBytes) {
  const sample s = full_sample();
  const std::string first = dashboard_html(s.runs, s.details, s.scenario);
  const sample t = full_sample();
  EXPECT_EQ(first, dashboard_html(t.runs, t.details, t.scenario));
  sample u = full_sample();
  u.runs[0].ok -= 1;
  EXPECT_NE(first, dashboard_html(u.runs, u.details, u.scenario));
}

}  // namespace
}  // namespace p2pfaas::bench
