#include "scheduler/forwarding_schedulers.hpp"
#include "scheduler/learning_scheduler.hpp"
#include "scheduler/no_scheduler.hpp"
#include "scheduler/policy_registry.hpp"
#include "scheduler/power_of_n_scheduler.hpp"

namespace p2pfaas::scheduler {

void register_builtin_policies(policy_registry& registry) {
  registry.add("NoScheduler", &no_scheduler::make);
  registry.add("ForwardScheduler", &forward_scheduler::make);
  registry.add("RoundRobinScheduler", &round_robin_scheduler::make);
  registry.add("PowerOfNScheduler", &power_of_n_scheduler::make);
  registry.add("LearningScheduler", &learning_scheduler::make);
}

}  // namespace p2pfaas::scheduler
