#pragma once

#include <string>
#include <vector>

namespace p2pfaas::testing {

// A network namespace of the test's own, joined to this host by a veth pair: <subnet>.1 on this
// side, <subnet>.2 inside, where <subnet> is "<base>.<pid % 250>". Removed on destruction. Needs
// root and ip(8); ok() says whether it could be built. Only these addresses are ever contacted.
class veth_namespace {
 public:
  // `base` is the first two octets, e.g. "10.231"; `tag` names the namespace ("<tag><pid>").
  veth_namespace(const std::string& base, const std::string& tag);
  ~veth_namespace();
  veth_namespace(const veth_namespace&) = delete;
  veth_namespace& operator=(const veth_namespace&) = delete;

  bool ok() const { return ok_; }
  const std::string& host_address() const { return host_address_; }
  const std::string& inside_address() const { return inside_address_; }
  // Prepended to a command line, runs it inside the namespace.
  std::vector<std::string> exec_prefix() const;

 private:
  std::string name_, host_address_, inside_address_;
  bool ok_ = false;
};

// Root, and ip(8) to build namespaces with.
bool can_make_namespaces();

}  // namespace p2pfaas::testing
