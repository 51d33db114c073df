// Two nodes on distinct addresses: one on this host, one in a network namespace of the test's own
// joined by a veth pair. What loopback cannot show: advertised addresses, gossip and peer links
// crossing a real (virtual) link.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

bool sh(const std::string& command) {
  return run_command({"/bin/sh", "-c", command + " 2>/dev/null"}).exit_code == 0;
}

// Namespace "p2pfc<pid>" holding 10.232.<n>.2, with 10.232.<n>.1 on this side; removed on
// destruction.
class peer_namespace {
 public:
  peer_namespace() : name_("p2pfc" + std::to_string(getpid())) {
    const std::string subnet = "10.232." + std::to_string(getpid() % 250) + ".";
    host_address_ = subnet + "1";
    inside_address_ = subnet + "2";
    const std::string host_veth = name_ + "h", ns_veth = name_ + "n";
    ok_ = sh("ip netns add " + name_) &&
          sh("ip link add " + host_veth + " type veth peer name " + ns_veth) &&
          sh("ip link set " + ns_veth + " netns " + name_) &&
          sh("ip addr add " + host_address_ + "/24 dev " + host_veth) &&
          sh("ip link set " + host_veth + " up") &&
          sh("ip netns exec " + name_ + " ip addr add " + inside_address_ + "/24 dev " + ns_veth) &&
          sh("ip netns exec " + name_ + " ip link set " + ns_veth + " up") &&
          sh("ip netns exec " + name_ + " ip link set lo up");
  }
  ~peer_namespace() {
    sh("ip link del " + name_ + "h");
    sh("ip netns del " + name_);
  }
  bool ok() const { return ok_; }
  const std::string& host_address() const { return host_address_; }
  const std::string& inside_address() const { return inside_address_; }
  std::vector<std::string> prefix() const { return {"/usr/sbin/ip", "netns", "exec", name_}; }

 private:
  std::string name_, host_address_, inside_address_;
  bool ok_ = false;
};

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
  if (geteuid() != 0 || access("/usr/sbin/ip", X_OK) != 0) {
    GTEST_SKIP() << "needs root and ip to build a network namespace";
  }
  peer_namespace ns;
  if (!ns.ok()) GTEST_SKIP() << "could not create a network namespace with a veth pair here";
  temp_dir dir;
  auto key = dir.write("cluster.key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
  chmod(key.c_str(), 0600);

  daemon_process outside({"--listen", ns.host_address() + ":0", "--cluster-key-file", key.string()},
                         "outside");
  const std::string seed = ns.host_address() + ":" + std::to_string(outside.port());
  daemon_process inside(
      {"--listen", ns.inside_address() + ":0", "--cluster-key-file", key.string(), "--join", seed},
      "inside", ns.prefix());

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
