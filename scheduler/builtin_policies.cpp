#include "scheduler/no_scheduler.hpp"
#include "scheduler/policy_registry.hpp"

namespace p2pfaas::scheduler {

void register_builtin_policies(policy_registry& registry) {
  registry.add("NoScheduler", &no_scheduler::make);
}

}  // namespace p2pfaas::scheduler
