#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scheduler/peer_network.hpp"

namespace p2pfaas::learner {
class agent;
}

namespace p2pfaas::scheduler {

// This node's executor occupancy, in the units of API.md: calls, not ratios.
struct local_load {
  int running = 0;
  int queued = 0;
  int slots = 0;
  int queue_capacity = 0;
  double recent_service_seconds = 0;

  int total() const { return running + queued; }  // "load" in API.md, what thresholds count
  double per_slot() const { return static_cast<double>(total()) / std::max(1, slots); }
};

// What a policy may know of a call when it decides.
struct call_context {
  std::string_view function;
  int hops = 0;  // peers the call already went through
  // The soft deadline still left, when the call has one.
  std::optional<double> deadline_left_seconds;
  // X-P2pfaas-Scheduler-Learning-Task-Type, else the function's configured task_type.
  int task_type = 0;
};

// What a policy sees of the other nodes, for one decision.
class cluster_view {
 public:
  virtual ~cluster_view() = default;
  // Alive peers this call may go to: never this node, never a node already on the call's path;
  // sorted by id. Their load is the last gossiped record, never below the calls this node has in
  // flight there itself (the record may be older than those).
  virtual const std::vector<peer_info>& candidates() const = 0;
  // Asks each of `peers` for its load over its link, all at once, within the probe timeout. One
  // entry per peer, in order: nullopt for a peer that did not answer in time.
  virtual boost::asio::awaitable<std::vector<std::optional<peer_load>>> probe(
      std::vector<peer_info> peers) = 0;
};

enum class action { run_local, forward, reject };

// How a call ended at the node that decided it, for a policy that learns from it.
struct call_feedback {
  int status = 0;
  bool rejected = false;             // the decision was to reject it
  std::optional<bool> deadline_met;  // when the call had a deadline
};

struct decision {
  action what = action::run_local;
  // For forward: where, in order of preference. The dispatcher tries the first; should it refuse
  // the call without running it, the second (at most); then here when there is room.
  std::vector<peer_info> peers;
  // Added to the call's answer (a learning policy names its choice there).
  std::vector<std::pair<std::string, std::string>> response_headers;
  // Called once when the call has its answer here, before it is sent.
  std::function<void(const call_feedback&)> on_finished;
};

// A scheduling policy: a small object built by name from validated parameters. decide() is
// called concurrently from many sessions, so a policy keeps any state of its own thread-safe.
class policy {
 public:
  virtual ~policy() = default;
  virtual std::string_view name() const = 0;
  // The parameters as P2PFaaS strings, normalised ("True" -> "true").
  virtual std::vector<std::string> parameters() const = 0;
  virtual boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                                  cluster_view& view) = 0;
};

// What policies are built with; injected so tests can make decisions deterministic.
struct policy_dependencies {
  std::function<std::uint64_t()> random;    // uniform 64-bit values; thread-safe
  std::shared_ptr<learner::agent> learner;  // the node's, for LearningScheduler
};

// Runs here, unless `loss` is set and no slot is free: P2PFaaS's loss mode drops a call rather
// than queue it.
inline decision here_or_reject(bool loss, const local_load& load) {
  if (loss && load.running >= load.slots) return {action::reject, {}};
  return {action::run_local, {}};
}

}  // namespace p2pfaas::scheduler
