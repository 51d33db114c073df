// SIGTERM: in-flight calls finish, new calls get 503, the process exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

int running(const daemon_process& node) {
  auto r = http_get(node.port(), "/monitoring/load");
  return r.status == 200 ? json::parse(r.body)["functions_running"].get<int>() : -1;
}

TEST(Shutdown, SigtermDrainsInFlightCallsRefusesNewOnesAndExitsZero) {
  daemon_process node({"--slots", "2"});
  auto in_flight = std::async(std::launch::async,
                              [&] { return http_get(node.port(), "/function/sleep?ms=1500"); });
  ASSERT_TRUE(eventually([&] { return running(node) == 1; }));

  node.signal(SIGTERM);
  // While draining, new calls are refused and health says so.
  ASSERT_TRUE(eventually([&] { return http_get(node.port(), "/health").status == 503; }, 1s));
  auto refused = http_get(node.port(), "/function/echo");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(json::parse(refused.body)["code"], "draining");

  auto finished = in_flight.get();
  EXPECT_EQ(finished.status, 200);
  EXPECT_EQ(json::parse(finished.body)["function"], "sleep");
  EXPECT_EQ(node.wait_exit(5s), 0);
  EXPECT_NE(node.log().find("stopped"), std::string::npos);
}

TEST(Shutdown, IdleNodeExitsPromptly) {
  daemon_process node;
  auto start = std::chrono::steady_clock::now();
  node.signal(SIGINT);
  EXPECT_EQ(node.wait_exit(5s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(Shutdown, DrainTimeoutCutsLongCallsShort) {
  daemon_process node({"--set", "node.drain_timeout_seconds=0.3"});
  auto in_flight = std::async(std::launch::async,
                              [&] { return http_get(node.port(), "/function/sleep?ms=20000"); });
  ASSERT_TRUE(eventually([&] { return running(node) == 1; }));
  auto start = std::chrono::steady_clock::now();
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait_exit(10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto cut = in_flight.get();
  EXPECT_EQ(cut.status, 503);  // answered, not left hanging
}

}  // namespace
}  // namespace p2pfaas::testing
