// Admin endpoints from a non-loopback client: refused without a token, served with it. The client
// runs in a network namespace of the test's own, joined to this host by a veth pair.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/veth_namespace.hpp"

namespace p2pfaas::testing {
namespace {

// HTTP status of a GET from inside the namespace, or -1.
int status_from_inside(const veth_namespace& ns, const std::string& url,
                       const std::string& header = {}) {
  std::vector<std::string> argv = ns.exec_prefix();
  for (const char* arg : {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"})
    argv.push_back(arg);
  if (!header.empty()) {
    argv.push_back("-H");
    argv.push_back(header);
  }
  argv.push_back(url);
  auto r = run_command(argv);
  return r.exit_code == 0 ? std::stoi(r.output) : -1;
}

TEST(AdminAccess, NonLoopbackClientNeedsTheToken) {
  if (!can_make_namespaces() || access("/usr/bin/curl", X_OK) != 0)
    GTEST_SKIP() << "needs root, ip and curl to build a network namespace";
  veth_namespace client("10.231", "p2pft");
  if (!client.ok()) GTEST_SKIP() << "could not create a network namespace with a veth pair here";

  {
    daemon_process open_node({"--listen", "0.0.0.0:0"});
    const std::string base =
        "http://" + client.host_address() + ":" + std::to_string(open_node.port());
    // Without an admin token, only loopback clients may administer the node.
    EXPECT_EQ(status_from_inside(client, base + "/configuration"), 401);
    EXPECT_EQ(status_from_inside(client, base + "/function/echo"), 200);  // calls are for everyone
    EXPECT_EQ(http_get(open_node.port(), "/configuration").status, 200);  // loopback
  }
  {
    temp_dir dir;
    auto token = dir.write("token", "ns-token-0123456789");
    daemon_process guarded_node({"--listen", "0.0.0.0:0", "--admin-token-file", token.string()});
    const std::string base =
        "http://" + client.host_address() + ":" + std::to_string(guarded_node.port());
    EXPECT_EQ(status_from_inside(client, base + "/configuration"), 401);
    EXPECT_EQ(status_from_inside(client, base + "/configuration",
                                 "Authorization: Bearer ns-token-0123456789"),
              200);
  }
}

}  // namespace
}  // namespace p2pfaas::testing
