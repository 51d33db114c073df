#pragma once

#include "scheduler/policy_registry.hpp"

namespace p2pfaas::scheduler {

// NoScheduler [loss]: always run here; with loss=true, reject when no slot is free instead of
// queueing (P2PFaaS's "loss" mode, where a busy node drops the call).
class no_scheduler final : public policy {
 public:
  explicit no_scheduler(bool loss) : loss_(loss) {}
  static build_result make(const std::vector<std::string>& parameters,
                           const policy_dependencies& dependencies);

  std::string_view name() const override { return "NoScheduler"; }
  std::vector<std::string> parameters() const override { return {loss_ ? "true" : "false"}; }
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                          cluster_view& view) override;

 private:
  bool loss_;
};

}  // namespace p2pfaas::scheduler
