#include "scheduler/learning_scheduler.hpp"

#include <algorithm>

#include "config/numbers.hpp"
#include "scheduler/forwarding_schedulers.hpp"
#include "scheduler/parameters.hpp"

namespace p2pfaas::scheduler {

build_result learning_scheduler::make(const std::vector<std::string>& parameters,
                                      const policy_dependencies& dependencies) {
  parameter_reader reader("LearningScheduler", parameters, {"task_types"});
  if (!reader.check_count()) return {nullptr, reader.error_text()};
  auto task_types = reader.integer(0, 1, 1, learner::max_task_type + 1);
  if (!task_types) return {nullptr, reader.error_text()};
  if (!dependencies.learner) return {nullptr, "LearningScheduler: this node has no learner"};
  return {
      std::make_shared<learning_scheduler>(*task_types, dependencies.learner, dependencies.random),
      {}};
}

boost::asio::awaitable<decision> learning_scheduler::decide(const call_context& call,
                                                            const local_load& load,
                                                            cluster_view& view) {
  if (call.hops > 0) co_return decision{action::run_local, {}};

  std::optional<double> best_peer;
  for (const auto& p : view.candidates()) {
    if (p.load.known() && (!best_peer || p.load.per_slot() < *best_peer)) {
      best_peer = p.load.per_slot();
    }
  }
  const learner::state at =
      agent_->observe(std::min(call.task_type, task_types_ - 1), load.per_slot(), best_peer);
  const learner::choice made = agent_->act(at);

  decision chosen;
  switch (made.taken) {
    case learner::action::reject:
      chosen.what = action::reject;
      break;
    case learner::action::run_here:
      chosen.what = action::run_local;
      break;
    case learner::action::probe_one: {
      // Power of one: forward only to a peer that says it is less loaded than this node.
      std::vector<peer_info> picked = pick_random(view.candidates(), 1, random_);
      if (!picked.empty()) {
        auto answers = co_await view.probe(picked);
        if (answers[0] && answers[0]->known() && answers[0]->per_slot() < load.per_slot()) {
          picked[0].load = *answers[0];
          chosen = {action::forward, std::move(picked)};
        }
      }
      break;
    }
    case learner::action::forward_least_loaded: {
      std::vector<peer_info> peers = view.candidates();
      std::erase_if(peers, [](const peer_info& p) { return !p.load.known(); });
      std::stable_sort(peers.begin(), peers.end(), [](const peer_info& a, const peer_info& b) {
        return a.load.per_slot() < b.load.per_slot();
      });
      if (peers.size() > 2) peers.resize(2);
      // With no peer known, there is nowhere to forward: the dispatcher runs it here.
      chosen = {action::forward, std::move(peers)};
      break;
    }
  }
  chosen.response_headers = {
      {"X-P2pfaas-Scheduler-Learning-Eid", std::to_string(made.eid)},
      {"X-P2pfaas-Scheduler-Learning-State", learner::to_string(at)},
      {"X-P2pfaas-Scheduler-Learning-Action", std::to_string(static_cast<int>(made.taken))},
      {"X-P2pfaas-Scheduler-Learning-Eps", config::shortest_text(made.epsilon)},
  };
  if (agent_->rewards_from_node()) {
    chosen.on_finished = [agent = agent_, eid = made.eid](const call_feedback& end) {
      agent->reward(eid, agent->reward_of({end.rejected, end.status == 200, end.deadline_met}));
    };
  }
  co_return chosen;
}

}  // namespace p2pfaas::scheduler
