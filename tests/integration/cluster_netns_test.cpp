// Two nodes on distinct addresses: one on this host, one in a network namespace of the test's own
// joined by a veth pair. What loopback cannot show: advertised addresses, gossip and peer links
// crossing a real (virtual) link.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/veth_namespace.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string state_seen(const daemon_process& observer, const std::string& id) {
  auto r = http_request_to(observer.host(), observer.port(), "GET", "/nodes", {}, {}, 2s);
  if (r.status != 200) return "";
  // Kept in a variable: a range-for over a member of a temporary would dangle.
  const json doc = json::parse(r.body);
  for (const auto& n : doc["nodes"]) {
    if (n["id"] == id) return n["state"];
  }
  return "";
}

TEST(ClusterAcrossNamespaces, NodesOnDistinctAddressesJoinAndForward) {
  if (!can_make_namespaces()) GTEST_SKIP() << "needs root and ip to build a network namespace";
  veth_namespace ns("10.232", "p2pfc");
  if (!ns.ok()) GTEST_SKIP() << "could not create a network namespace with a veth pair here";
  temp_dir dir;
  auto key = dir.write("cluster.key", std::string(test_cluster_key) + "\n");
  chmod(key.c_str(), 0600);

  daemon_process outside({"--listen", ns.host_address() + ":0", "--cluster-key-file", key.string()},
                         "outside");
  const std::string seed = ns.host_address() + ":" + std::to_string(outside.port());
  daemon_process inside(
      {"--listen", ns.inside_address() + ":0", "--cluster-key-file", key.string(), "--join", seed},
      "inside", ns.exec_prefix());

  ASSERT_TRUE(eventually(
      [&] {
        return state_seen(outside, "inside") == "alive" && state_seen(inside, "outside") == "alive";
      },
      5s))
      << http_request_to(outside.host(), outside.port(), "GET", "/nodes").body << "\n"
      << http_request_to(inside.host(), inside.port(), "GET", "/nodes").body << "\n"
      << inside.log() << outside.log();
  auto list = json::parse(http_request_to(outside.host(), outside.port(), "GET", "/list").body);
  ASSERT_EQ(list.size(), 1U);
  EXPECT_EQ(list[0]["ip"], ns.inside_address());
  EXPECT_EQ(list[0]["port"], inside.port());

  // Both directions over the veth link.
  auto there = http_request_to(outside.host(), outside.port(), "POST", "/function/echo", "ping",
                               {{"X-P2pfaas-Scheduler-Forward", "1"}});
  EXPECT_EQ(there.status, 200);
  EXPECT_EQ(there.body, "ping");
  EXPECT_EQ(there.header("X-P2pfaas-Executed-On"), "inside");
  auto back = http_request_to(inside.host(), inside.port(), "POST", "/function/echo", "pong",
                              {{"X-P2pfaas-Scheduler-Forward", "1"}});
  EXPECT_EQ(back.status, 200);
  EXPECT_EQ(back.header("X-P2pfaas-Executed-On"), "outside");
}

}  // namespace
}  // namespace p2pfaas::testing
