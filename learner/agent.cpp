#include "learner/agent.hpp"

#include <algorithm>
#include <cmath>

namespace p2pfaas::learner {

namespace {

// Decisions kept while they wait for a reward. Every call the node decides ends with an answer,
// so the bound only matters when rewards come from clients that never send some.
constexpr std::size_t max_pending = 65536;
// A decision whose successor eid never showed up is paired with the next one present once eids
// this much further on have been seen: by then the missing one is taken as lost.
constexpr std::uint64_t successor_gap = 64;

}  // namespace

agent::agent(config::learner_section parameters, std::function<std::uint64_t()> random)
    : parameters_(std::move(parameters)),
      random_(std::move(random)),
      epsilon_(parameters_.epsilon_start) {}

state agent::observe(int task_type, double own_load_per_slot,
                     std::optional<double> best_peer_load_per_slot) const {
  std::lock_guard lock(mutex_);
  state s;
  s.task_type = std::clamp(task_type, 0, max_task_type);
  s.own_load = bucket_of(own_load_per_slot, parameters_.own_load_buckets);
  // No peer to go to reads as the busiest peers: forwarding can do no good either way.
  s.peer_load = best_peer_load_per_slot
                    ? bucket_of(*best_peer_load_per_slot, parameters_.peer_load_buckets)
                    : static_cast<int>(parameters_.peer_load_buckets.size());
  return s;
}

choice agent::decide(const state& at) {
  choice made;
  made.at = at;
  made.epsilon = epsilon_;
  const bool explore = epsilon_ > 0 && static_cast<double>(random_() >> 11) * 0x1.0p-53 < epsilon_;
  if (explore) {
    made.taken = all_actions[random_() % action_count];
  } else {
    // Greedy, ties broken at random: an unvisited state has all four at zero.
    q_values values{};
    if (auto it = table_.find(at); it != table_.end()) values = it->second;
    const double best = *std::max_element(values.begin(), values.end());
    std::array<action, action_count> ties{};
    std::size_t n = 0;
    for (int a = 0; a < action_count; ++a) {
      if (values[a] == best) ties[n++] = static_cast<action>(a);
    }
    made.taken = n == 1 ? ties[0] : ties[random_() % n];
  }
  if (parameters_.epsilon_decay_enabled) {
    epsilon_ = std::max(parameters_.epsilon_min, epsilon_ * parameters_.epsilon_decay);
  }
  ++counters_.decisions;
  ++counters_.decisions_by_action[static_cast<int>(made.taken)];
  return made;
}

choice agent::act(const state& at) {
  std::lock_guard lock(mutex_);
  choice made = decide(at);
  made.eid = next_eid_++;
  record(made.eid, at, made.taken, std::nullopt);
  return made;
}

choice agent::act_untracked(const state& at) {
  std::lock_guard lock(mutex_);
  return decide(at);
}

double agent::reward_of(const call_end& end) const {
  std::lock_guard lock(mutex_);
  if (end.rejected_by_learner) return parameters_.reward_rejected;
  if (end.ok && end.deadline_met.value_or(true)) return parameters_.reward_met;
  return parameters_.reward_missed;
}

bool agent::record(std::uint64_t eid, const state& at, action taken, std::optional<double> reward) {
  if (trained_.contains(eid)) {
    ++counters_.duplicates;
    return false;
  }
  counters_.eid_max_seen = std::max(counters_.eid_max_seen, eid);
  auto [it, inserted] = pending_.try_emplace(eid, pending_decision{at, taken, reward});
  if (!inserted) {
    if (it->second.reward || !reward) {
      ++counters_.duplicates;
      return false;
    }
    it->second.reward = reward;
  }
  if (reward) ready_.push_back(eid);
  if (pending_.size() > max_pending) {
    pending_.erase(pending_.begin());
    ++counters_.dropped;
  }
  return true;
}

bool agent::request_wakeup() {
  if (wakeup_requested_ || !wakeup_ || ready_.empty()) return false;
  wakeup_requested_ = true;
  return true;
}

void agent::reward(std::uint64_t eid, double value) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(eid);
    if (it == pending_.end()) return;  // reset since, or given up on
    if (it->second.reward) {
      ++counters_.duplicates;
      return;
    }
    it->second.reward = value;
    ready_.push_back(eid);
    if (request_wakeup()) wake = wakeup_;
  }
  if (wake) wake();
}

train_summary agent::submit(const std::vector<experience>& batch) {
  train_summary summary;
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    for (const auto& e : batch) {
      if (record(e.eid, e.at, e.taken, e.reward)) {
        ++summary.accepted;
      } else {
        ++summary.duplicates;
      }
    }
    if (request_wakeup()) wake = wakeup_;
  }
  if (wake) wake();
  return summary;
}

void agent::update(const pending_decision& from, const pending_decision& to) {
  const int a = static_cast<int>(from.taken);
  q_values& q = table_[from.at];
  q_values next_values{};
  if (auto it = table_.find(to.at); it != table_.end()) next_values = it->second;
  const double next = parameters_.algorithm == "sarsa"
                          ? next_values[static_cast<int>(to.taken)]
                          : *std::max_element(next_values.begin(), next_values.end());
  const double reward = *from.reward;
  q[a] += parameters_.alpha * (reward + parameters_.discount * next - q[a]);

  ++counters_.updates;
  const auto window = static_cast<std::size_t>(parameters_.window_size);
  if (counters_.updates % window == 0) ++counters_.episodes;
  if (recent_rewards_.size() < window) {
    recent_rewards_.push_back(reward);
    recent_sum_ += reward;
  } else {
    recent_next_ %= recent_rewards_.size();
    recent_sum_ += reward - recent_rewards_[recent_next_];
    recent_rewards_[recent_next_++] = reward;
  }
}

std::size_t agent::train_pending() {
  std::lock_guard lock(mutex_);
  wakeup_requested_ = false;
  std::sort(ready_.begin(), ready_.end());
  ready_.erase(std::unique(ready_.begin(), ready_.end()), ready_.end());
  std::size_t made = 0;
  std::vector<std::uint64_t> waiting;
  for (std::uint64_t eid : ready_) {
    auto it = pending_.find(eid);
    if (it == pending_.end()) continue;  // dropped meanwhile
    auto next = std::next(it);
    const bool successor_known =
        next != pending_.end() &&
        (next->first == eid + 1 || counters_.eid_max_seen >= eid + successor_gap);
    if (!successor_known) {
      waiting.push_back(eid);
      continue;
    }
    update(it->second, next->second);
    counters_.eid_last_trained = eid;
    pending_.erase(it);
    trained_.insert(eid);
    trained_order_.push_back(eid);
    if (trained_order_.size() > max_pending) {
      trained_.erase(trained_order_.front());
      trained_order_.pop_front();
    }
    ++made;
  }
  ready_ = std::move(waiting);
  return made;
}

void agent::set_wakeup(std::function<void()> wakeup) {
  std::lock_guard lock(mutex_);
  wakeup_ = std::move(wakeup);
  wakeup_requested_ = false;
}

config::learner_section agent::parameters() const {
  std::lock_guard lock(mutex_);
  return parameters_;
}

bool agent::set_parameters(const config::learner_section& next) {
  std::lock_guard lock(mutex_);
  const bool new_states = next.own_load_buckets != parameters_.own_load_buckets ||
                          next.peer_load_buckets != parameters_.peer_load_buckets;
  if (new_states) {
    table_.clear();
    pending_.clear();
    ready_.clear();
  }
  if (next.window_size != parameters_.window_size) {
    recent_rewards_.clear();
    recent_next_ = 0;
    recent_sum_ = 0;
  }
  parameters_ = next;
  epsilon_ = std::clamp(epsilon_, parameters_.epsilon_min, parameters_.epsilon_start);
  return new_states;
}

void agent::reset() {
  std::lock_guard lock(mutex_);
  table_.clear();
  pending_.clear();
  ready_.clear();
  recent_rewards_.clear();
  recent_next_ = 0;
  recent_sum_ = 0;
  counters_ = {};
  epsilon_ = parameters_.epsilon_start;
}

stats agent::current_stats() const {
  std::lock_guard lock(mutex_);
  stats out = counters_;
  out.epsilon = epsilon_;
  out.rewards_recent = recent_rewards_.size();
  out.mean_reward_recent =
      recent_rewards_.empty() ? 0 : recent_sum_ / static_cast<double>(recent_rewards_.size());
  out.pending = pending_.size();
  out.table_states = table_.size();
  return out;
}

q_table agent::table() const {
  std::lock_guard lock(mutex_);
  return table_;
}

void agent::replace_table(q_table next) {
  std::lock_guard lock(mutex_);
  table_ = std::move(next);
}

snapshot agent::save() const {
  std::lock_guard lock(mutex_);
  return {parameters_, false, epsilon_, next_eid_, table_};
}

void agent::restore(const snapshot& saved) {
  std::lock_guard lock(mutex_);
  parameters_ = saved.parameters;
  epsilon_ = std::clamp(saved.epsilon, parameters_.epsilon_min, parameters_.epsilon_start);
  next_eid_ = std::max(next_eid_, saved.next_eid);
  table_ = saved.table;
  pending_.clear();
  ready_.clear();
}

int agent::own_buckets() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(parameters_.own_load_buckets.size()) + 1;
}

int agent::peer_buckets() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(parameters_.peer_load_buckets.size()) + 1;
}

bool agent::rewards_from_node() const {
  std::lock_guard lock(mutex_);
  return parameters_.reward_source == "node";
}

}  // namespace p2pfaas::learner
