#include "scheduler/no_scheduler.hpp"

#include "scheduler/parameters.hpp"

namespace p2pfaas::scheduler {

build_result no_scheduler::make(const std::vector<std::string>& parameters,
                                const policy_dependencies&) {
  parameter_reader reader("NoScheduler", parameters, {"loss"});
  if (!reader.check_count()) return {nullptr, reader.error_text()};
  auto loss = reader.boolean(0, false);
  if (!loss) return {nullptr, reader.error_text()};
  return {std::make_shared<no_scheduler>(*loss), {}};
}

decision no_scheduler::decide(const call_context&, const local_load& load) {
  if (loss_ && load.running >= load.slots) return {action::reject, {}};
  return {action::run_local, {}};
}

}  // namespace p2pfaas::scheduler
