#include "tests/support/veth_namespace.hpp"

#include <unistd.h>

#include "tests/support/daemon_process.hpp"

namespace p2pfaas::testing {

namespace {
bool sh(const std::string& command) {
  return run_command({"/bin/sh", "-c", command + " 2>/dev/null"}).exit_code == 0;
}
}  // namespace

veth_namespace::veth_namespace(const std::string& base, const std::string& tag)
    : name_(tag + std::to_string(getpid())) {
  const std::string subnet = base + "." + std::to_string(getpid() % 250) + ".";
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

veth_namespace::~veth_namespace() {
  sh("ip link del " + name_ + "h");
  sh("ip netns del " + name_);
}

std::vector<std::string> veth_namespace::exec_prefix() const {
  return {"/usr/sbin/ip", "netns", "exec", name_};
}

bool can_make_namespaces() {
  return geteuid() == 0 && access("/usr/sbin/ip", X_OK) == 0;
}

}  // namespace p2pfaas::testing
