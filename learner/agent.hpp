#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_set>
#include <vector>

#include "config/config.hpp"
#include "learner/state.hpp"

namespace p2pfaas::learner {

using q_values = std::array<double, action_count>;
using q_table = std::map<state, q_values>;  // states never updated are absent: all zero

// One decision and what it earned.
struct experience {
  std::uint64_t eid = 0;
  state at;
  action taken = action::run_here;
  double reward = 0;
};

struct choice {
  std::uint64_t eid = 0;  // 0 for a decision that is not followed up (/act)
  state at;
  action taken = action::run_here;
  double epsilon = 0;  // the exploration rate it was made with
};

// How a call the learner decided ended, at the node that received it.
struct call_end {
  bool rejected_by_learner = false;
  bool ok = false;                   // the function answered 200
  std::optional<bool> deadline_met;  // when it had a deadline
};

struct train_summary {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;  // an eid already rewarded: the first reward wins
};

struct stats {
  std::uint64_t decisions = 0;
  std::array<std::uint64_t, action_count> decisions_by_action{};
  std::uint64_t updates = 0;
  double epsilon = 0;
  std::uint64_t episodes = 0;      // completed windows of window_size updates
  double mean_reward_recent = 0;   // over the last window_size updates
  std::size_t rewards_recent = 0;  // how many that mean is over
  std::size_t pending = 0;         // decisions waiting for their reward or their successor
  std::size_t table_states = 0;
  std::uint64_t eid_max_seen = 0;
  std::uint64_t eid_last_trained = 0;
  std::uint64_t dropped = 0;     // pending decisions given up on (never rewarded)
  std::uint64_t duplicates = 0;  // rewards for an eid already rewarded
};

// What is saved and restored.
struct snapshot {
  config::learner_section parameters;
  // Whether `parameters` were set at runtime (API or config patch), and so win over the config
  // file's at the next start; otherwise the config's apply and only the learned state is kept.
  bool parameters_set_at_runtime = false;
  double epsilon = 1;
  std::uint64_t next_eid = 1;
  q_table table;
};

// Tabular Q-learning or SARSA over the discounted return, with epsilon-greedy exploration.
//
// Each call the learner decides is one step of a continuing task; its reward comes when the call
// ends, and its successor is the next decision, identified by the next eid. Rewards arrive out of
// order (calls take different times), so a decision waits until it has its reward and its
// successor is known, and only then is its update made:
//   Q(s,a) += alpha * (r + discount * next - Q(s,a))
// with next = max_a' Q(s',a') (Q-learning) or Q(s',a') for the action taken there (SARSA).
// The discounted form was chosen over the average-reward one (P2PFaaS's learner): rewards are
// per call and bounded, and an action's effect on later calls lasts about one service time, so a
// small discount captures it, keeps Q readable (near the chance of meeting the deadline) and
// needs no second step size for the average.
//
// Thread-safe: act() and reward() take one short lock and do no update; train_pending() makes the
// updates, run by the node off the calls' path.
class agent {
 public:
  // `random`: uniform 64-bit values, only called under the agent's lock.
  agent(config::learner_section parameters, std::function<std::uint64_t()> random);

  state observe(int task_type, double own_load_per_slot,
                std::optional<double> best_peer_load_per_slot) const;
  // An epsilon-greedy decision that will be followed by reward(eid, ...).
  choice act(const state& at);
  // A decision for /act, which is not followed up.
  choice act_untracked(const state& at);
  double reward_of(const call_end& end) const;
  // The reward of a decision act() made. The first reward of an eid wins.
  void reward(std::uint64_t eid, double value);
  // Experiences from outside (/train). A state or action given for an eid this node decided
  // replaces nothing: the decision as made is kept.
  train_summary submit(const std::vector<experience>& batch);
  // Makes every update that can be made now; returns how many.
  std::size_t train_pending();
  // Called (outside the lock) when an update becomes possible and no call to train_pending() is
  // due yet: the node schedules one. Without it, updates wait for a train_pending() call.
  void set_wakeup(std::function<void()> wakeup);

  config::learner_section parameters() const;
  // Applies validated parameters. New buckets change what the states mean, so they clear the
  // table (returns true then). Epsilon is kept, within [epsilon_min, epsilon_start].
  bool set_parameters(const config::learner_section& next);
  // Forgets the table, pending decisions and counters; epsilon back to epsilon_start. Eids keep
  // growing, so a late reward for an old eid cannot be taken for a new decision's.
  void reset();

  stats current_stats() const;
  q_table table() const;
  void replace_table(q_table next);
  snapshot save() const;
  void restore(const snapshot& saved);

  int own_buckets() const;   // boundaries + 1
  int peer_buckets() const;  // boundaries + 1
  bool rewards_from_node() const;

 private:
  struct pending_decision {
    state at;
    action taken = action::run_here;
    std::optional<double> reward;
  };

  choice decide(const state& at);  // under mutex_
  // Records an experience as pending (under mutex_); false when its eid had a reward already.
  bool record(std::uint64_t eid, const state& at, action taken, std::optional<double> reward);
  void update(const pending_decision& from, const pending_decision& to);  // under mutex_
  bool request_wakeup();  // under mutex_: whether the caller should call wakeup_

  mutable std::mutex mutex_;
  config::learner_section parameters_;
  std::function<std::uint64_t()> random_;
  std::function<void()> wakeup_;
  bool wakeup_requested_ = false;
  double epsilon_;
  std::uint64_t next_eid_ = 1;
  q_table table_;
  std::map<std::uint64_t, pending_decision> pending_;
  std::vector<std::uint64_t> ready_;  // rewarded eids not yet trained
  // The last eids trained, so that one sent again is known as a duplicate once it has left
  // pending_. Bounded: the oldest are forgotten first.
  std::unordered_set<std::uint64_t> trained_;
  std::deque<std::uint64_t> trained_order_;
  std::vector<double> recent_rewards_;  // ring of the last window_size rewards trained
  std::size_t recent_next_ = 0;
  double recent_sum_ = 0;
  stats counters_;
};

}  // namespace p2pfaas::learner
