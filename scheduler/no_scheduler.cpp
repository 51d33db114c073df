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

boost::asio::awaitable<decision> no_scheduler::decide(const call_context&, const local_load& load,
                                                      cluster_view&) {
  co_return here_or_reject(loss_, load);
}

}  // namespace p2pfaas::scheduler
