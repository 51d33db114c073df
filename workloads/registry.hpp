#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/function.hpp"

namespace p2pfaas::workloads {

// Name → body. Filled at start-up, then only read: lookups from several threads are safe as long
// as nobody calls add() concurrently.
class function_registry {
 public:
  // Replaces a function of the same name. Throws std::invalid_argument for an empty name or body.
  void add(std::string name, function_body body);
  const function_body* find(std::string_view name) const;  // nullptr when unknown
  std::vector<std::string> names() const;                  // sorted

 private:
  std::map<std::string, function_body, std::less<>> functions_;
};

}  // namespace p2pfaas::workloads
