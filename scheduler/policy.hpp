#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::scheduler {

// This node's executor occupancy, in the units of API.md: calls, not ratios.
struct local_load {
  int running = 0;
  int queued = 0;
  int slots = 0;
  int queue_capacity = 0;
};

// What a policy may know of a call when it decides.
struct call_context {
  std::string_view function;
  int hops = 0;  // peers the call already went through
};

enum class action { run_local, forward, reject };

struct decision {
  action what = action::run_local;
  std::string peer;  // for forward
};

// A scheduling policy: a small object built by name from validated parameters. decide() is
// called concurrently from many sessions, so a policy keeps any state of its own thread-safe.
class policy {
 public:
  virtual ~policy() = default;
  virtual std::string_view name() const = 0;
  // The parameters as P2PFaaS strings, normalised ("True" -> "true").
  virtual std::vector<std::string> parameters() const = 0;
  virtual decision decide(const call_context& call, const local_load& load) = 0;
};

// What policies are built with; injected so tests can make decisions deterministic.
struct policy_dependencies {
  std::function<std::uint64_t()> random;  // uniform 64-bit values
};

}  // namespace p2pfaas::scheduler
