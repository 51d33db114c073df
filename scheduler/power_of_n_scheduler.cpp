#include "scheduler/power_of_n_scheduler.hpp"

#include <algorithm>

#include "scheduler/forwarding_schedulers.hpp"
#include "scheduler/parameters.hpp"

namespace p2pfaas::scheduler {

build_result power_of_n_scheduler::make(const std::vector<std::string>& parameters,
                                        const policy_dependencies& dependencies) {
  parameter_reader reader("PowerOfNScheduler", parameters,
                          {"fanout", "threshold", "loss", "max_hops", "source"});
  if (!reader.check_count()) return {nullptr, reader.error_text()};
  auto fanout = reader.integer(0, 1, 1, 64);
  auto threshold = reader.integer(1, 1, 0, 1000000);
  auto loss = reader.boolean(2, false);
  auto max_hops = reader.integer(3, 1, 0, max_hops_limit);
  auto source = reader.choice(4, "probe", {"probe", "gossip"});
  if (!fanout || !threshold || !loss || !max_hops || !source) return {nullptr, reader.error_text()};
  settings s{*fanout, *threshold, *loss, *max_hops,
             *source == "gossip" ? load_source::gossip : load_source::probe};
  return {std::make_shared<power_of_n_scheduler>(s, dependencies.random), {}};
}

std::vector<std::string> power_of_n_scheduler::parameters() const {
  std::vector<std::string> out{
      std::to_string(settings_.fanout), std::to_string(settings_.threshold),
      settings_.loss ? "true" : "false", std::to_string(settings_.max_hops)};
  // P2PFaaS's four, plus the source only when it is not the default.
  if (settings_.source == load_source::gossip) out.push_back("gossip");
  return out;
}

double power_of_n_scheduler::expected_completion_seconds(const local_load& load) {
  const int slots = std::max(1, load.slots);
  // A free slot starts it now; otherwise it waits for the calls ahead of it, `slots` at a time.
  const double waves = load.running < slots ? 0 : static_cast<double>(load.queued + 1) / slots;
  return (waves + 1) * load.recent_service_seconds;
}

boost::asio::awaitable<decision> power_of_n_scheduler::decide(const call_context& call,
                                                              const local_load& load,
                                                              cluster_view& view) {
  const bool late_here =
      call.deadline_left_seconds && expected_completion_seconds(load) > *call.deadline_left_seconds;
  if (call.hops >= settings_.max_hops || (load.total() < settings_.threshold && !late_here) ||
      view.candidates().empty()) {
    co_return here_or_reject(settings_.loss, load);
  }

  std::vector<peer_info> picked =
      pick_random(view.candidates(), static_cast<std::size_t>(settings_.fanout), random_);
  if (settings_.source == load_source::probe) {
    std::vector<std::optional<peer_load>> answers = co_await view.probe(picked);
    std::vector<peer_info> answered;
    for (std::size_t i = 0; i < picked.size(); ++i) {
      if (answers[i] && answers[i]->known()) {
        answered.push_back(std::move(picked[i]));
        answered.back().load = *answers[i];
      }
    }
    picked = std::move(answered);
  } else {
    std::erase_if(picked, [](const peer_info& p) { return !p.load.known(); });
  }
  // Stable: among equally loaded peers the random order of the draw decides.
  std::stable_sort(picked.begin(), picked.end(), [](const peer_info& a, const peer_info& b) {
    return a.load.per_slot() < b.load.per_slot();
  });
  const double own = load.per_slot();
  std::erase_if(picked, [own](const peer_info& p) { return !(p.load.per_slot() < own); });
  if (picked.empty()) co_return here_or_reject(settings_.loss, load);
  if (picked.size() > 2) picked.resize(2);
  co_return decision{action::forward, std::move(picked)};
}

}  // namespace p2pfaas::scheduler
