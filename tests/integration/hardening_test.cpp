// Issue 15 against a real p2pfaasd: what one client, a web page or a careless operator could do
// to a node. Each test is the reproduction of a defect; the node must answer and stay healthy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

std::string code_of(const reply& r) {
  return json::parse(r.body, nullptr, false).value("code", "");
}

// Item 5: `memory` at its per-call limit on every slot held slots × limit at once.
TEST(Hardening, FunctionMemoryStaysWithinTheNodeBudget) {
  daemon_process node({"--slots", "8", "--set", "executor.memory_limit_mb=64", "--set",
                       "executor.memory_budget_mb=128"});
  std::vector<std::future<std::vector<int>>> clients;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(std::async(std::launch::async, [&] {
      std::vector<int> statuses;
      for (int i = 0; i < 6; ++i) {
        const reply r = http_get(node.port(), "/function/memory?mb=64");
        statuses.push_back(r.status);
        if (r.status == 429) {
          EXPECT_EQ(code_of(r), "memory_budget") << r.body;
        }
      }
      return statuses;
    }));
  }
  int ok = 0, refused = 0;
  for (auto& client : clients) {
    for (int status : client.get()) {
      ASSERT_TRUE(status == 200 || status == 429) << status;
      (status == 200 ? ok : refused)++;
    }
  }
  EXPECT_GT(ok, 0);
  // Two 64 MiB blocks fit in the budget at once; eight did before it existed (530+ MiB).
  EXPECT_LT(peak_rss_mib(node.pid()), 128 + 100) << ok << " ok, " << refused << " refused";
  EXPECT_EQ(metric_sum(node.port(), "p2pfaas_function_memory_refused_total"), refused);
  EXPECT_EQ(http_get(node.port(), "/health").status, 200);
}

TEST(Hardening, AMemoryLimitOverTheBudgetIsAConfigError) {
  auto r =
      run_command(daemon_argv({"--listen", "127.0.0.1:0", "--set", "executor.memory_limit_mb=2048",
                               "--set", "executor.memory_budget_mb=1024"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config error: executor.memory_limit_mb: must be <= "
                          "executor.memory_budget_mb (1024), got 2048"),
            std::string::npos)
      << r.output;
}

// Item 9: one client holding every slot and the whole queue with long calls left every other
// client 429 until its calls timed out.
TEST(Hardening, AClientHoldingEverySlotAndTheQueueLeavesRoomForAnother) {
  daemon_process node({"--slots", "2", "--queue", "4"});
  std::vector<std::future<reply>> heavy;
  for (int i = 0; i < 6; ++i) {
    heavy.push_back(std::async(std::launch::async, [&] {
      return http_request_from("127.0.0.2", "127.0.0.1", node.port(), "GET",
                               "/function/sleep?ms=2500", {}, {}, 30s);
    }));
  }
  ASSERT_TRUE(eventually([&] {
    const reply load = http_get(node.port(), "/monitoring/load");
    const json body = json::parse(load.body, nullptr, false);
    return body.value("functions_running", 0) == 2 && body.value("queue_length", 0) == 4;
  }));
  // The heavy client's next call finds no room...
  EXPECT_EQ(
      http_request_from("127.0.0.2", "127.0.0.1", node.port(), "GET", "/function/echo").status,
      429);
  // ...another client's call takes the place of the heavy client's newest queued call and runs
  // as soon as a slot frees, before the heavy client's backlog.
  const auto sent = clock::now();
  const reply light =
      http_request_from("127.0.0.3", "127.0.0.1", node.port(), "POST", "/function/echo", "hi");
  EXPECT_EQ(light.status, 200) << light.body;
  EXPECT_EQ(light.body, "hi");
  EXPECT_LT(clock::now() - sent, 4s);  // one 2.5 s call, not a backlog of four more
  int refused = 0;
  for (auto& call : heavy) {
    const int status = call.get().status;
    EXPECT_TRUE(status == 200 || status == 429) << status;
    refused += status == 429;
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(metric_sum(node.port(), "p2pfaas_fair_evictions_total"), 1);
}

TEST(Hardening, FairSourcesCanBeTurnedOff) {
  daemon_process node({"--slots", "1", "--queue", "1", "--set", "executor.fair_sources=false"});
  std::vector<std::future<reply>> heavy;
  for (int i = 0; i < 2; ++i) {
    heavy.push_back(std::async(std::launch::async, [&] {
      return http_request_from("127.0.0.2", "127.0.0.1", node.port(), "GET",
                               "/function/sleep?ms=1500", {}, {}, 30s);
    }));
  }
  ASSERT_TRUE(eventually([&] {
    const json body = json::parse(http_get(node.port(), "/monitoring/load").body, nullptr, false);
    return body.value("queue_length", 0) == 1;
  }));
  EXPECT_EQ(
      http_request_from("127.0.0.3", "127.0.0.1", node.port(), "GET", "/function/echo").status,
      429);
  for (auto& call : heavy) EXPECT_EQ(call.get().status, 200);
}

// Item 14: a DNS-rebinding page reaches 127.0.0.1 under its own name.
TEST(Hardening, AdminWithoutATokenAnswersOnlyToTheNodesOwnNames) {
  daemon_process node;
  const reply rebound = http_get(node.port(), "/configuration", {{"Host", "attacker.example"}});
  EXPECT_EQ(rebound.status, 403) << rebound.body;
  EXPECT_EQ(code_of(rebound), "foreign_host");
  EXPECT_EQ(http_get(node.port(), "/configuration", {{"Host", "localhost:1234"}}).status, 200);
  EXPECT_EQ(http_get(node.port(), "/configuration", {{"Host", "a"}}).status, 200);  // its id
  // Function calls are for everyone, whatever the Host.
  EXPECT_EQ(http_get(node.port(), "/function/echo", {{"Host", "attacker.example"}}).status, 200);
}

// Item 13: an <img src=".../learner/reset"> sends a GET with no Origin.
TEST(Hardening, NoGetChangesStateWithoutTheToken) {
  daemon_process node(
      {"--set", "scheduler.name=LearningScheduler", "--set", "scheduler.parameters=1"});
  for (const char* target : {"/learner/reset", "/train"}) {
    const reply r = http_get(node.port(), target);
    EXPECT_EQ(r.status, 405) << target << " " << r.body;
    EXPECT_EQ(r.header("Allow"), "POST") << target;
  }
  EXPECT_EQ(http_request(node.port(), "POST", "/learner/reset").status, 200);
}

// Item 15: any file was taken as the admin token, however short.
TEST(Hardening, AShortAdminTokenStopsStartUp) {
  temp_dir dir;
  const auto token = dir.write("token", "abcde\n");
  auto r =
      run_command(daemon_argv({"--listen", "127.0.0.1:0", "--admin-token-file", token.string()}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config error: admin.token_file: " + token.string() +
                          ": the token is 5 characters, need at least 16"),
            std::string::npos)
      << r.output;
}

TEST(Hardening, AnAdminTokenOthersCanReadIsWarnedAbout) {
  temp_dir dir;
  const auto token = dir.write("token", "0123456789abcdef0123\n");
  ::chmod(token.c_str(), 0644);
  daemon_process node({"--admin-token-file", token.string()});
  EXPECT_TRUE(eventually([&] { return node.log().find("chmod 600") != std::string::npos; }))
      << node.log();
}

}  // namespace
}  // namespace p2pfaas::testing
