// Admin endpoints from a non-loopback client: refused without a token, served with it. The client
// runs in a network namespace of the test's own, joined to this host by a veth pair.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

// A namespace "p2pft<pid>" holding 10.231.<n>.2, with 10.231.<n>.1 on this side; removed on
// destruction. Only the test's own addresses are ever contacted.
class client_namespace {
 public:
  client_namespace() : name_("p2pft" + std::to_string(getpid())) {
    const std::string subnet = "10.231." + std::to_string(getpid() % 250) + ".";
    host_address_ = subnet + "1";
    const std::string host_veth = name_ + "h", ns_veth = name_ + "n";
    ok_ = sh("ip netns add " + name_) &&
          sh("ip link add " + host_veth + " type veth peer name " + ns_veth) &&
          sh("ip link set " + ns_veth + " netns " + name_) &&
          sh("ip addr add " + host_address_ + "/24 dev " + host_veth) &&
          sh("ip link set " + host_veth + " up") &&
          sh("ip netns exec " + name_ + " ip addr add " + subnet + "2/24 dev " + ns_veth) &&
          sh("ip netns exec " + name_ + " ip link set " + ns_veth + " up") &&
          sh("ip netns exec " + name_ + " ip link set lo up");
  }
  ~client_namespace() {
    sh("ip link del " + name_ + "h");
    sh("ip netns del " + name_);
  }
  bool ok() const { return ok_; }
  const std::string& host_address() const { return host_address_; }

  // HTTP status of a GET from inside the namespace, or -1.
  int get_status(const std::string& url, const std::string& header = {}) const {
    std::vector<std::string> argv{"/usr/sbin/ip", "netns",        "exec",       name_,
                                  "curl",         "-s",           "-o",         "/dev/null",
                                  "-w",           "%{http_code}", "--max-time", "5"};
    if (!header.empty()) {
      argv.push_back("-H");
      argv.push_back(header);
    }
    argv.push_back(url);
    auto r = run_command(argv);
    return r.exit_code == 0 ? std::stoi(r.output) : -1;
  }

 private:
  static bool sh(const std::string& command) {
    return run_command({"/bin/sh", "-c", command + " 2>/dev/null"}).exit_code == 0;
  }
  std::string name_;
  std::string host_address_;
  bool ok_ = false;
};

bool can_make_namespaces() {
  return geteuid() == 0 && access("/usr/sbin/ip", X_OK) == 0 && access("/usr/bin/curl", X_OK) == 0;
}

TEST(AdminAccess, NonLoopbackClientNeedsTheToken) {
  if (!can_make_namespaces())
    GTEST_SKIP() << "needs root, ip and curl to build a network namespace";
  client_namespace client;
  if (!client.ok()) GTEST_SKIP() << "could not create a network namespace with a veth pair here";

  {
    daemon_process open_node({"--listen", "0.0.0.0:0"});
    const std::string base =
        "http://" + client.host_address() + ":" + std::to_string(open_node.port());
    // Without an admin token, only loopback clients may administer the node.
    EXPECT_EQ(client.get_status(base + "/configuration"), 401);
    EXPECT_EQ(client.get_status(base + "/function/echo"), 200);           // calls are for everyone
    EXPECT_EQ(http_get(open_node.port(), "/configuration").status, 200);  // loopback
  }
  {
    temp_dir dir;
    auto token = dir.write("token", "ns-token");
    daemon_process guarded_node({"--listen", "0.0.0.0:0", "--admin-token-file", token.string()});
    const std::string base =
        "http://" + client.host_address() + ":" + std::to_string(guarded_node.port());
    EXPECT_EQ(client.get_status(base + "/configuration"), 401);
    EXPECT_EQ(client.get_status(base + "/configuration", "Authorization: Bearer ns-token"), 200);
  }
}

}  // namespace
}  // namespace p2pfaas::testing
