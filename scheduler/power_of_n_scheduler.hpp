#pragma once

#include "scheduler/policy_registry.hpp"

namespace p2pfaas::scheduler {

// PowerOfNScheduler [fanout, threshold, loss, max_hops, source]: runs here while this node's
// load (running + queued) is below `threshold`, or once the call has been through max_hops peers.
// Otherwise it looks at `fanout` distinct random peers and forwards to the least loaded by load
// per slot, if that is below this node's own; else here (or, with loss, rejected when no slot is
// free). The peers' load comes from `source`: "probe" asks them over their links (a peer that does
// not answer in time is left out, never taken for idle), "gossip" reads their gossiped records.
// With a deadline, the call also looks for a peer when it would not finish here in time
// (expected queue wait + recent service time).
class power_of_n_scheduler final : public policy {
 public:
  enum class load_source { probe, gossip };
  struct settings {
    int fanout = 1;
    int threshold = 1;
    bool loss = false;
    int max_hops = 1;
    load_source source = load_source::probe;
  };

  power_of_n_scheduler(settings s, std::function<std::uint64_t()> random)
      : settings_(s), random_(std::move(random)) {}
  static build_result make(const std::vector<std::string>& parameters,
                           const policy_dependencies& dependencies);

  std::string_view name() const override { return "PowerOfNScheduler"; }
  std::vector<std::string> parameters() const override;
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                          cluster_view& view) override;

  // When a call that starts now would finish here: the wait for a slot plus a service time.
  static double expected_completion_seconds(const local_load& load);

 private:
  const settings settings_;
  const std::function<std::uint64_t()> random_;
};

}  // namespace p2pfaas::scheduler
