#pragma once

// The scheduler a client or a peer chooses: the body of POST /configuration/scheduler and of the
// scheduler admin call, P2PFaaS's {"name": "<policy>", "parameters": ["<string>", ...]}, read
// into the config patch that applies it. Pure, so the handler, the admin call and the fuzzer
// share one reader; the node applies the patch and builds the policy.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace p2pfaas::node {

struct scheduler_choice {
  nlohmann::json patch;  // {"scheduler":{"name","parameters"}} when accepted
  std::string code;      // when refused: "bad_json" or "invalid_scheduler"
  std::string message;   // when refused: why, client input cut short

  bool ok() const { return code.empty(); }
};

// Omitted parameters mean the policy's defaults (an empty list), not the previous policy's.
scheduler_choice read_scheduler_choice(std::string_view body);

}  // namespace p2pfaas::node
