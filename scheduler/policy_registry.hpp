#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/policy.hpp"

namespace p2pfaas::scheduler {

struct build_result {
  std::shared_ptr<policy> built;  // null when the name or parameters were refused
  std::string error;              // why, naming the parameter
};

// Policies by P2PFaaS name. Filled explicitly by register_builtin_policies() from the composition
// root: static self-registration would be dropped by the linker from a static library.
class policy_registry {
 public:
  using factory =
      std::function<build_result(const std::vector<std::string>&, const policy_dependencies&)>;

  void add(std::string name, factory make);
  build_result build(std::string_view name, const std::vector<std::string>& parameters,
                     const policy_dependencies& dependencies) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, factory, std::less<>> factories_;
};

void register_builtin_policies(policy_registry& registry);

}  // namespace p2pfaas::scheduler
