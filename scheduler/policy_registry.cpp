#include "scheduler/policy_registry.hpp"

#include "config/json_input.hpp"

namespace p2pfaas::scheduler {

void policy_registry::add(std::string name, factory make) {
  factories_[std::move(name)] = std::move(make);
}

build_result policy_registry::build(std::string_view name,
                                    const std::vector<std::string>& parameters,
                                    const policy_dependencies& dependencies) const {
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [n, f] : factories_) known += (known.empty() ? "" : ", ") + n;
    return {nullptr, "unknown scheduler " + config::quote_input(name) + " (known: " + known + ")"};
  }
  return it->second(parameters, dependencies);
}

std::vector<std::string> policy_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, f] : factories_) out.push_back(name);
  return out;
}

}  // namespace p2pfaas::scheduler
