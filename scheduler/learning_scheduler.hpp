#pragma once

#include "learner/agent.hpp"
#include "scheduler/policy_registry.hpp"

namespace p2pfaas::scheduler {

// LearningScheduler [task_types]: the node's learner chooses, for each call received from a
// client, among run here, forward to the least loaded known peer (by gossip), probe one random
// peer and forward there if it is less loaded, and reject. Its state is the call's task type
// (types above task_types - 1 share the last), this node's load and the least loaded peer's. The
// answer names the choice in X-P2pfaas-Scheduler-Learning-{Eid,State,Action,Eps}, and the call's
// outcome is the learner's reward. A call forwarded here runs here, as in P2PFaaS: it was decided
// at its origin.
class learning_scheduler final : public policy {
 public:
  learning_scheduler(int task_types, std::shared_ptr<learner::agent> agent,
                     std::function<std::uint64_t()> random)
      : task_types_(task_types), agent_(std::move(agent)), random_(std::move(random)) {}
  static build_result make(const std::vector<std::string>& parameters,
                           const policy_dependencies& dependencies);

  std::string_view name() const override { return "LearningScheduler"; }
  std::vector<std::string> parameters() const override { return {std::to_string(task_types_)}; }
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                          cluster_view& view) override;

 private:
  const int task_types_;
  const std::shared_ptr<learner::agent> agent_;
  const std::function<std::uint64_t()> random_;
};

}  // namespace p2pfaas::scheduler
