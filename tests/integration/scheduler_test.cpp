// Scheduling policies on real p2pfaasd processes: the control API (set by name, validated,
// persisted, cluster-wide), switches under load, the hop limit, fallbacks, and the P2PFaaS
// discovery listener.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

double metric(const daemon_process& node, const std::string& series) {
  return metric_sum(node.port(), series);
}

reply set_scheduler(const daemon_process& node, const json& body, const std::string& scope = "") {
  return http_request(node.port(), "POST",
                      "/configuration/scheduler" + (scope.empty() ? "" : "?scope=" + scope),
                      body.dump());
}

json scheduler_of(const daemon_process& node) {
  return json::parse(http_get(node.port(), "/configuration/scheduler").body, nullptr, false);
}

class Scheduling : public ::testing::Test {
 protected:
  Scheduling() {
    key_file_ = keys_.write("cluster.key", std::string(test_cluster_key) + "\n");
    chmod(key_file_.c_str(), 0600);
  }

  std::unique_ptr<daemon_process> start(const std::string& id, const daemon_process* seed,
                                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--cluster-key-file", key_file_.string()};
    if (seed) {
      args.push_back("--join");
      args.push_back("127.0.0.1:" + std::to_string(seed->port()));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<daemon_process>(args, id);
  }

  // Three nodes a, b, c that all see each other alive.
  void start_three(std::vector<std::string> extra = {}) {
    a_ = start("a", nullptr, extra);
    b_ = start("b", a_.get(), extra);
    c_ = start("c", a_.get(), extra);
    ASSERT_TRUE(eventually(
        [&] {
          for (const auto* n : {a_.get(), b_.get(), c_.get()}) {
            auto list = json::parse(http_get(n->port(), "/list").body, nullptr, false);
            if (!list.is_array() || list.size() != 2) return false;
          }
          return true;
        },
        10s));
  }

  temp_dir keys_;
  std::filesystem::path key_file_;
  std::unique_ptr<daemon_process> a_, b_, c_;
};

TEST_F(Scheduling, EveryPolicyIsSetByNameWithP2pfaasStringsAndBadInputIsRefused) {
  daemon_process node;
  EXPECT_EQ(scheduler_of(node), json::parse(R"({"name":"NoScheduler","parameters":["false"]})"));
  const std::vector<std::pair<json, json>> accepted = {
      {{{"name", "NoScheduler"}, {"parameters", {"True"}}}, {"true"}},
      {{{"name", "ForwardScheduler"}, {"parameters", {"2"}}}, {"2"}},
      {{{"name", "RoundRobinScheduler"}, {"parameters", {"1"}}}, {"1"}},
      {{{"name", "PowerOfNScheduler"}, {"parameters", {"1", "2", "true", "1"}}},
       {"1", "2", "true", "1"}},
      // Numbers and booleans are taken as the strings P2PFaaS would send.
      {{{"name", "PowerOfNScheduler"}, {"parameters", {2, 3, false, 1, "gossip"}}},
       {"2", "3", "false", "1", "gossip"}},
  };
  for (const auto& [body, normalised] : accepted) {
    auto r = set_scheduler(node, body);
    EXPECT_EQ(r.status, 200) << body.dump() << " " << r.body;
    json expected{{"name", body["name"]}, {"parameters", normalised}};
    EXPECT_EQ(json::parse(r.body), expected);
    EXPECT_EQ(scheduler_of(node), expected);
    // The policy that decides calls is the one set.
    auto call = http_request(node.port(), "POST", "/function/echo", "x");
    EXPECT_EQ(call.header("X-P2pfaas-Scheduler"), body["name"]);
  }

  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"({"name":"FastestScheduler"})", "unknown scheduler \"FastestScheduler\""},
      {R"({"name":"PowerOfNScheduler","parameters":["0","2","true","1"]})",
       "parameters[0] (fanout): must be between 1 and 64 (got 0)"},
      {R"({"name":"NoScheduler","parameters":["maybe"]})",
       "parameters[0] (loss): must be true or false (got \"maybe\")"},
      {R"({"name":"ForwardScheduler","parameters":["1","2"]})",
       "ForwardScheduler takes at most 1 parameter [max_hops] (got 2)"},
      {R"({"name":"NoScheduler","threshold":3})", "unknown key \"threshold\""},
      {R"({"parameters":["1"]})", "the body must be {\"name\""},
      {R"(not json)", "not valid JSON"},
  };
  for (const auto& [body, message] : refused) {
    auto r = http_request(node.port(), "POST", "/configuration/scheduler", body);
    EXPECT_EQ(r.status, 400) << body;
    const std::string said = json::parse(r.body, nullptr, false).value("message", "");
    EXPECT_NE(said.find(message), std::string::npos) << body << " -> " << r.body;
  }
  // A refused choice changed nothing.
  EXPECT_EQ(scheduler_of(node)["parameters"], json({"2", "3", "false", "1", "gossip"}));
}

TEST_F(Scheduling, TheChoiceSurvivesARestart) {
  temp_dir data;
  const std::vector<std::string> args{"--data-dir", data.path().string()};
  {
    daemon_process node(args);
    ASSERT_EQ(set_scheduler(node, {{"name", "RoundRobinScheduler"}, {"parameters", {"2"}}}).status,
              200);
    node.signal(SIGTERM);
    ASSERT_EQ(node.wait_exit(10s), 0);
  }
  daemon_process again(args);
  EXPECT_EQ(scheduler_of(again),
            json::parse(R"({"name":"RoundRobinScheduler","parameters":["2"]})"));
  EXPECT_NE(again.log().find("restored from"), std::string::npos) << again.log();

  // Set through POST /configuration too.
  ASSERT_EQ(http_request(again.port(), "POST", "/configuration",
                         R"({"scheduler":{"name":"NoScheduler","parameters":["true"]}})")
                .status,
            200);
  again.signal(SIGTERM);
  ASSERT_EQ(again.wait_exit(10s), 0);
  daemon_process third(args);
  EXPECT_EQ(scheduler_of(third), json::parse(R"({"name":"NoScheduler","parameters":["true"]})"));
}

TEST_F(Scheduling, AnUnusableSavedChoiceIsIgnoredWithAWarning) {
  temp_dir data;
  std::filesystem::create_directories(data.path());
  data.write("scheduler.json", R"({"name":"GoneScheduler","parameters":[]})");
  daemon_process node({"--data-dir", data.path().string(), "--set",
                       "scheduler.name=ForwardScheduler", "--set", "scheduler.parameters=1"});
  EXPECT_EQ(scheduler_of(node)["name"], "ForwardScheduler");
  EXPECT_NE(node.log().find("ignoring"), std::string::npos) << node.log();
}

TEST_F(Scheduling, ClusterScopeAppliesOnEveryAliveNodeAndReportsEach) {
  start_three();
  const json body{{"name", "PowerOfNScheduler"}, {"parameters", {"1", "2", "true", "1"}}};
  auto r = set_scheduler(*b_, body, "cluster");
  ASSERT_EQ(r.status, 200) << r.body;
  json answer = json::parse(r.body);
  std::set<std::string> nodes;
  for (const auto& n : answer["nodes"]) {
    EXPECT_EQ(n["status"], 200) << n.dump();
    EXPECT_EQ(n["result"], body) << n.dump();
    nodes.insert(n["node"]);
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"a", "b", "c"}));
  for (const auto* n : {a_.get(), b_.get(), c_.get()}) EXPECT_EQ(scheduler_of(*n), body);

  // A choice the first node refuses reaches nobody.
  r = set_scheduler(*b_, {{"name", "NoScheduler"}, {"parameters", {"perhaps"}}}, "cluster");
  EXPECT_EQ(r.status, 400);
  for (const auto* n : {a_.get(), b_.get(), c_.get()}) EXPECT_EQ(scheduler_of(*n), body);
  EXPECT_EQ(set_scheduler(*b_, body, "galaxy").status, 400);
}

TEST_F(Scheduling, SwitchingPoliciesUnderLoadFailsNoCall) {
  start_three({"--slots", "2", "--queue", "64"});
  // A call in flight when the policy changes finishes under the policy it started with.
  auto long_call = std::async(std::launch::async, [&] {
    return http_request(a_->port(), "POST", "/function/sleep?ms=600", "",
                        {{"X-P2pfaas-Scheduler-Bypass", "1"}});
  });
  std::atomic<bool> stop{false};
  std::vector<std::future<std::map<int, int>>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::async(std::launch::async, [&] {
      std::map<int, int> statuses;
      while (!stop) ++statuses[http_request(a_->port(), "POST", "/function/sleep?ms=15").status];
      return statuses;
    }));
  }
  const std::vector<json> policies = {
      {{"name", "PowerOfNScheduler"}, {"parameters", {"2", "1", "false", "1"}}},
      {{"name", "RoundRobinScheduler"}, {"parameters", {"1"}}},
      {{"name", "ForwardScheduler"}, {"parameters", {"2"}}},
      {{"name", "PowerOfNScheduler"}, {"parameters", {"1", "1", "false", "2", "gossip"}}},
      {{"name", "NoScheduler"}, {"parameters", {"false"}}},
  };
  for (int round = 0; round < 3; ++round) {
    for (const auto& p : policies) {
      std::this_thread::sleep_for(100ms);  // pacing the switches, not waiting for anything
      auto r = set_scheduler(*a_, p, "cluster");
      EXPECT_EQ(r.status, 200) << r.body;
    }
  }
  stop = true;
  std::map<int, int> all;
  for (auto& c : clients) {
    for (auto [status, n] : c.get()) all[status] += n;
  }
  EXPECT_EQ(all.size(), 1U) << "statuses seen: " << json(all).dump();
  EXPECT_GT(all[200], 50);
  auto held = long_call.get();
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(held.header("X-P2pfaas-Scheduler"), "NoScheduler");  // the policy it started with
  // Calls were forwarded as well as run here, under the policies that forward.
  EXPECT_GT(metric(*a_,
                   "p2pfaas_scheduler_decisions_total{policy=\"RoundRobinScheduler\",outcome="
                   "\"forwarded\"}"),
            0);
  EXPECT_GT(metric(*a_, "p2pfaas_scheduler_decisions_total{policy=\"PowerOfNScheduler\""), 0);
}

TEST_F(Scheduling, WithMaxHopsTwoNoCallVisitsANodeTwice) {
  start_three({"--slots", "4", "--queue", "64"});
  ASSERT_EQ(
      set_scheduler(*a_, {{"name", "ForwardScheduler"}, {"parameters", {"2"}}}, "cluster").status,
      200);
  std::vector<std::future<std::vector<reply>>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      std::vector<reply> replies;
      const auto& entry = i % 2 ? *a_ : *b_;
      for (int n = 0; n < 25; ++n) {
        replies.push_back(http_request(entry.port(), "POST", "/function/sleep?ms=5"));
      }
      return replies;
    }));
  }
  int two_hops = 0;
  for (auto& c : clients) {
    for (const auto& r : c.get()) {
      ASSERT_EQ(r.status, 200) << r.body;
      json path = json::parse(r.header("X-P2pfaas-Peers-List-Id"));
      std::set<std::string> distinct(path.begin(), path.end());
      EXPECT_EQ(distinct.size(), path.size()) << path.dump();  // nobody twice
      EXPECT_LE(path.size(), 3U);
      EXPECT_EQ(r.header("X-P2pfaas-Hops"), std::to_string(path.size() - 1));
      EXPECT_EQ(r.header("X-P2pfaas-Executed-On"), path.back());
      // Every node of the path reported its timings, origin first.
      EXPECT_EQ(json::parse(r.header("X-P2pfaas-Timing-Probing-Seconds-List")).size(), path.size());
      if (path.size() == 3) ++two_hops;
    }
  }
  // ForwardScheduler always forwards until the limit: 3 nodes, 2 hops, each one new.
  EXPECT_EQ(two_hops, 100);
}

TEST_F(Scheduling, WhenTheChosenPeerIsKilledCallsFallBack) {
  start_three();
  ASSERT_EQ(set_scheduler(*a_, {{"name", "RoundRobinScheduler"}, {"parameters", {"1"}}}).status,
            200);
  // Links to both peers are open, so the kill is seen as a lost link, then as refused connects.
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(http_request(a_->port(), "POST", "/function/echo").status, 200);
  b_->signal(SIGKILL);
  // A call sent on the link in the instant before a sees it close gets 502 (it may have reached
  // b); the fallback is for calls that surely did not: once the link is down, b refuses connects.
  ASSERT_TRUE(
      eventually([&] { return metric(*a_, "p2pfaas_peer_links{side=\"client\"}") == 1; }, 5s));
  std::map<std::string, int> executed_on;
  for (int i = 0; i < 20; ++i) {
    auto r = http_request(a_->port(), "POST", "/function/echo", "x");
    ASSERT_EQ(r.status, 200) << r.body;
    ++executed_on[r.header("X-P2pfaas-Executed-On")];
  }
  EXPECT_EQ(executed_on.count("b"), 0U);
  EXPECT_GT(executed_on["c"], 0);
  EXPECT_GT(
      metric(
          *a_,
          "p2pfaas_scheduler_decisions_total{policy=\"RoundRobinScheduler\",outcome=\"fallback\"}"),
      0);
  EXPECT_GT(metric(*a_, "p2pfaas_scheduler_forward_failures_total{reason=\"connect_failed\"}"), 0);
}

TEST_F(Scheduling, PowerOfNProbesPeersAndReportsTheProbeTime) {
  start_three({"--slots", "1", "--queue", "8"});
  ASSERT_EQ(
      set_scheduler(*a_, {{"name", "PowerOfNScheduler"}, {"parameters", {"2", "1", "false", "1"}}})
          .status,
      200);
  // a's only slot is busy: its load is 1, the idle peers' 0, so the next call is forwarded.
  auto busy = std::async(std::launch::async, [&] {
    return http_request(a_->port(), "POST", "/function/sleep?ms=1500", "",
                        {{"X-P2pfaas-Scheduler-Bypass", "1"}});
  });
  ASSERT_TRUE(eventually([&] { return metric(*a_, "p2pfaas_calls_in_flight") == 1; }));
  auto r = http_request(a_->port(), "POST", "/function/echo", "x");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.header("X-P2pfaas-Executed-On"), "a");
  json probing = json::parse(r.header("X-P2pfaas-Timing-Probing-Seconds-List"));
  ASSERT_EQ(probing.size(), 2U);
  EXPECT_GT(probing[0].get<double>(), 0);  // a probed
  EXPECT_EQ(probing[1].get<double>(), 0);  // the peer, at the hop limit, did not
  EXPECT_EQ(metric(*a_, "p2pfaas_scheduler_probe_duration_seconds_count{result=\"answered\"}"), 2);
  EXPECT_EQ(busy.get().status, 200);
}

TEST_F(Scheduling, CallsPastTheirDeadlineAreCounted) {
  daemon_process node;
  auto r = http_request(node.port(), "POST", "/function/sleep?ms=60", "",
                        {{"X-P2pfaas-Deadline-Seconds", "0.02"}});
  EXPECT_EQ(r.status, 200);
  r = http_request(node.port(), "POST", "/function/echo", "",
                   {{"X-P2pfaas-Deadline-Seconds", "5"}});
  EXPECT_EQ(metric(node, "p2pfaas_calls_deadline_total{function=\"sleep\",met=\"false\"}"), 1);
  EXPECT_EQ(metric(node, "p2pfaas_calls_deadline_total{function=\"echo\",met=\"true\"}"), 1);
}

TEST_F(Scheduling, TheDiscoveryListenerServesP2pfaasShapesAndJoinsInitServers) {
  const std::uint16_t port = unused_loopback_port();
  auto a = start("a", nullptr);
  auto b =
      start("b", nullptr, {"--set", "compat.discovery_listen=127.0.0.1:" + std::to_string(port)});
  json list = json::parse(http_get(port, "/list").body, nullptr, false);
  EXPECT_EQ(list, json::array());  // alone so far
  json conf = json::parse(http_get(port, "/configuration").body, nullptr, false);
  EXPECT_EQ(conf["machine_id"], "b");
  EXPECT_EQ(conf["machine_ip"], "127.0.0.1");
  EXPECT_EQ(conf["machine_group_name"], "default");
  EXPECT_EQ(conf["init_servers"], json::array());

  // P2PFaaS points a node at its cluster through init_servers.
  auto r = http_request(port, "POST", "/configuration",
                        json{{"init_servers", {"127.0.0.1:" + std::to_string(a->port())}}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(eventually([&] {
    auto l = json::parse(http_get(port, "/list").body, nullptr, false);
    return l.is_array() && l.size() == 1;
  }));
  list = json::parse(http_get(port, "/list").body);
  EXPECT_EQ(list[0]["name"], "a");
  EXPECT_EQ(list[0]["ip"], "127.0.0.1");
  EXPECT_EQ(list[0]["port"], a->port());
  EXPECT_EQ(list[0]["group_name"], "default");
  EXPECT_EQ(list[0]["alive"], true);
  EXPECT_TRUE(list[0]["ping"].is_number());
  EXPECT_TRUE(list[0]["last_update"].is_number_integer());
  EXPECT_EQ(json::parse(http_get(port, "/configuration").body)["init_servers"].size(), 1U);

  r = http_request(port, "POST", "/configuration", R"({"machine_id":"z"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("machine_id: cannot be changed at runtime"), std::string::npos) << r.body;
  EXPECT_EQ(http_get(port, "/function/echo").status, 404);  // only the discovery API there
}

TEST_F(Scheduling, ACompatListenerThatCannotBindStopsStartUp) {
  daemon_process first;
  auto result = run_command({binary_path("p2pfaasd").string(), "--listen", "127.0.0.1:0",
                             "--data-dir", (keys_.path() / "d").string(), "--set",
                             "compat.learner_listen=127.0.0.1:" + std::to_string(first.port())},
                            10s);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("compat.learner_listen"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace p2pfaas::testing
