#include <string>

#include "config/config.hpp"
#include "config/json_input.hpp"

namespace p2pfaas::config {

loaded apply_patch(const config& current, const nlohmann::json& patch) {
  if (!patch.is_object()) {
    return {current, {{"", "patch must be a JSON object (got " + describe_json(patch) + ")"}}};
  }
  nlohmann::json merged = to_json(current);
  merged.merge_patch(patch);
  // Read over the defaults, not over `current`: a key the patch removed with null must fall back
  // to its default, and a function entry removed with null must disappear.
  config next = defaults();
  auto errors = from_json(merged, next);
  if (!errors.empty()) return {current, std::move(errors)};
  return {std::move(next), {}};
}

}  // namespace p2pfaas::config
