#include "workloads/registry.hpp"

#include <stdexcept>
#include <utility>

namespace p2pfaas::workloads {

void function_registry::add(std::string name, function_body body) {
  if (name.empty()) throw std::invalid_argument("function_registry::add: empty function name");
  if (!body) throw std::invalid_argument("function_registry::add: empty body for '" + name + "'");
  functions_.insert_or_assign(std::move(name), std::move(body));
}

const function_body* function_registry::find(std::string_view name) const {
  const auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

std::vector<std::string> function_registry::names() const {
  std::vector<std::string> result;
  result.reserve(functions_.size());
  for (const auto& [name, body] : functions_) result.push_back(name);
  return result;
}

}  // namespace p2pfaas::workloads
