#include "learner/agent.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

namespace p2pfaas::learner {
namespace {

std::function<std::uint64_t()> seeded(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] { return (*engine)(); };
}

config::learner_section greedy(std::string algorithm = "q_learning") {
  config::learner_section p;
  p.algorithm = std::move(algorithm);
  p.alpha = 0.5;
  p.discount = 0.9;
  p.epsilon_start = 0;
  p.epsilon_min = 0;
  return p;
}

const state idle{0, 0, 0};
const state busy{0, 2, 0};

// Two experiences in a row: the first is updated towards its reward plus the discounted value of
// the second's state, by hand:
//   Q-learning: 0.3 + 0.5 * (1 + 0.9 * max(0, 0.2, 0.4, 0.1) - 0.3) = 0.83
//   SARSA:      0.3 + 0.5 * (1 + 0.9 * Q(busy, forward) = 0.1 - 0.3) = 0.695
double update_by_hand(const std::string& algorithm) {
  agent a(greedy(algorithm), seeded(1));
  a.replace_table({{idle, {0, 0.3, 0, 0}}, {busy, {0, 0.2, 0.4, 0.1}}});
  a.submit({{1, idle, action::run_here, 1}, {2, busy, action::forward_least_loaded, 0}});
  EXPECT_EQ(a.train_pending(), 1U);  // the second waits for its successor
  const q_table table = a.table();
  EXPECT_EQ(table.at(busy), (q_values{0, 0.2, 0.4, 0.1}));
  return table.at(idle)[1];
}

TEST(Agent, QLearningUpdateMatchesTheHandComputedValue) {
  EXPECT_DOUBLE_EQ(update_by_hand("q_learning"), 0.83);
}

TEST(Agent, SarsaUpdateUsesTheActionTakenNext) {
  EXPECT_DOUBLE_EQ(update_by_hand("sarsa"), 0.695);
}

TEST(Agent, AnUnvisitedNextStateCountsAsZero) {
  agent a(greedy(), seeded(1));
  a.submit({{7, idle, action::reject, 0.5}, {8, busy, action::run_here, 0}});
  a.train_pending();
  EXPECT_DOUBLE_EQ(a.table().at(idle)[0], 0.25);  // 0 + 0.5 * (0.5 + 0.9 * 0 - 0)
}

TEST(Agent, RewardsArrivingOutOfOrderWaitForTheirSuccessor) {
  agent a(greedy(), seeded(2));
  const choice first = a.act(idle);
  const choice second = a.act(idle);
  EXPECT_EQ(second.eid, first.eid + 1);
  a.reward(second.eid, 1);
  EXPECT_EQ(a.train_pending(), 0U);  // no decision after the second yet
  a.reward(first.eid, 1);
  EXPECT_EQ(a.train_pending(), 1U);  // the first: its successor's state is known
  const choice third = a.act(busy);
  EXPECT_EQ(a.train_pending(), 1U);  // now the second
  EXPECT_EQ(a.current_stats().updates, 2U);
  EXPECT_EQ(a.current_stats().pending, 1U);  // the third, unrewarded
  EXPECT_EQ(a.current_stats().eid_last_trained, second.eid);
  (void)third;
}

TEST(Agent, AMissingSuccessorIsGivenUpOnOnceEidsFarBeyondItArrive) {
  agent a(greedy(), seeded(2));
  a.submit({{10, idle, action::run_here, 1}, {12, busy, action::run_here, 0}});
  EXPECT_EQ(a.train_pending(), 0U);  // 11 may still come
  a.submit({{80, busy, action::run_here, 0}});
  // 10 is paired with 12, and 12 with 80 (13..79 are taken as lost); 80 waits.
  EXPECT_EQ(a.train_pending(), 2U);
  EXPECT_DOUBLE_EQ(a.table().at(idle)[1], 0.5);
  EXPECT_EQ(a.current_stats().pending, 1U);
}

TEST(Agent, TheFirstRewardOfAnEidWins) {
  agent a(greedy(), seeded(3));
  const choice made = a.act(idle);
  a.reward(made.eid, 1);
  a.reward(made.eid, 0);
  train_summary again = a.submit({{made.eid, busy, action::reject, 0}});
  EXPECT_EQ(again.accepted, 0U);
  EXPECT_EQ(again.duplicates, 1U);
  EXPECT_EQ(a.current_stats().duplicates, 2U);
}

TEST(Agent, AClientRewardForADecisionOfThisNodeKeepsTheDecisionAsMade) {
  agent a(greedy(), seeded(3));
  const choice made = a.act(idle);
  a.act(busy);
  EXPECT_EQ(a.submit({{made.eid, busy, action::reject, 1}}).accepted, 1U);
  a.train_pending();
  const q_table table = a.table();
  ASSERT_TRUE(table.contains(made.at));
  EXPECT_DOUBLE_EQ(table.at(made.at)[static_cast<int>(made.taken)], 0.5);
}

TEST(Agent, GreedyTakesTheBestActionAndBreaksTiesAtRandom) {
  agent a(greedy(), seeded(4));
  a.replace_table({{busy, {0, 0.1, 0.9, 0.2}}});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.act(busy).taken, action::probe_one);
  std::set<action> seen;
  for (int i = 0; i < 200; ++i) seen.insert(a.act(idle).taken);  // all zero: a tie of four
  EXPECT_EQ(seen.size(), 4U);
}

TEST(Agent, EpsilonDecaysAtEachDecisionDownToItsMinimum) {
  config::learner_section p = greedy();
  p.epsilon_start = 1;
  p.epsilon_decay = 0.5;
  p.epsilon_min = 0.2;
  agent a(p, seeded(5));
  std::vector<double> seen;
  for (int i = 0; i < 5; ++i) seen.push_back(a.act(idle).epsilon);
  EXPECT_EQ(seen, (std::vector<double>{1, 0.5, 0.25, 0.2, 0.2}));
  EXPECT_DOUBLE_EQ(a.current_stats().epsilon, 0.2);

  p.epsilon_decay_enabled = false;
  agent fixed(p, seeded(5));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(fixed.act(idle).epsilon, 1);
}

TEST(Agent, ExplorationRateIsTheShareOfRandomChoices) {
  config::learner_section p = greedy();
  p.epsilon_start = p.epsilon_min = 0.4;
  agent a(p, seeded(6));
  a.replace_table({{idle, {0, 1, 0, 0}}});
  int other = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) other += a.act_untracked(idle).taken != action::run_here;
  // A random choice is another action 3 times in 4: 0.4 * 0.75 = 0.3.
  EXPECT_NEAR(static_cast<double>(other) / n, 0.3, 0.02);
  EXPECT_EQ(a.current_stats().pending, 0U);  // /act decisions are not followed up
}

TEST(Agent, RewardFollowsTheCallsEnd) {
  config::learner_section p = greedy();
  p.reward_met = 1;
  p.reward_missed = -1;
  p.reward_rejected = -0.5;
  agent a(p, seeded(7));
  EXPECT_EQ(a.reward_of({false, true, true}), 1);
  EXPECT_EQ(a.reward_of({false, true, std::nullopt}), 1);  // no deadline: answered is enough
  EXPECT_EQ(a.reward_of({false, true, false}), -1);
  EXPECT_EQ(a.reward_of({false, false, std::nullopt}), -1);
  EXPECT_EQ(a.reward_of({true, false, std::nullopt}), -0.5);
}

TEST(Agent, ObserveDiscretisesLoadsPerSlot) {
  agent a(config::learner_section{}, seeded(8));  // boundaries 0.5, 1, 1.5, 2, 3
  EXPECT_EQ(a.observe(2, 0.25, 1.2), (state{2, 0, 2}));
  EXPECT_EQ(a.observe(0, 3, 0), (state{0, 5, 0}));
  // No peer known reads as the busiest bucket; task types are kept within 0..1023.
  EXPECT_EQ(a.observe(5000, 0, std::nullopt), (state{1023, 0, 5}));
  EXPECT_EQ(a.own_buckets(), 6);
}

TEST(Agent, NewBucketsClearTheTableOtherChangesKeepIt) {
  agent a(greedy(), seeded(9));
  a.replace_table({{idle, {0, 1, 0, 0}}});
  config::learner_section p = greedy("sarsa");
  p.alpha = 0.1;
  EXPECT_FALSE(a.set_parameters(p));
  EXPECT_EQ(a.table().size(), 1U);
  p.own_load_buckets = {1, 2};
  EXPECT_TRUE(a.set_parameters(p));
  EXPECT_TRUE(a.table().empty());
  EXPECT_EQ(a.own_buckets(), 3);
}

TEST(Agent, ResetForgetsButEidsKeepGrowing) {
  config::learner_section p = greedy();
  p.epsilon_start = 0.8;
  p.epsilon_decay = 0.5;
  agent a(p, seeded(10));
  const choice before = a.act(idle);
  a.act(idle);
  a.reward(before.eid, 1);
  a.train_pending();
  a.reset();
  const stats s = a.current_stats();
  EXPECT_EQ(s.decisions, 0U);
  EXPECT_EQ(s.table_states, 0U);
  EXPECT_EQ(s.pending, 0U);
  EXPECT_DOUBLE_EQ(s.epsilon, 0.8);
  EXPECT_GT(a.act(idle).eid, before.eid + 1);
}

TEST(Agent, StatsCountEpisodesAndTheRecentMeanReward) {
  config::learner_section p = greedy();
  p.window_size = 4;
  agent a(p, seeded(11));
  std::vector<experience> batch;
  for (std::uint64_t eid = 1; eid <= 11; ++eid) {
    batch.push_back({eid, idle, action::run_here, eid <= 6 ? 0.0 : 1.0});
  }
  a.submit(batch);
  a.train_pending();
  const stats s = a.current_stats();
  EXPECT_EQ(s.updates, 10U);  // the 11th waits for a successor
  EXPECT_EQ(s.episodes, 2U);
  EXPECT_EQ(s.rewards_recent, 4U);
  EXPECT_DOUBLE_EQ(s.mean_reward_recent, 1.0);  // rewards of eids 7..10
}

TEST(Agent, WakesTheTrainerOncePerBatchOfRewards) {
  agent a(greedy(), seeded(12));
  int wakeups = 0;
  a.set_wakeup([&] { ++wakeups; });
  const choice one = a.act(idle);
  const choice two = a.act(idle);
  a.reward(one.eid, 1);
  a.reward(two.eid, 1);
  EXPECT_EQ(wakeups, 1);
  a.train_pending();
  a.act(idle);
  a.reward(two.eid + 1, 1);
  EXPECT_EQ(wakeups, 2);
}

// A small continuing task: a call finds the node idle or busy (at random, whatever was done
// before). Idle, running here meets the deadline most often; busy, forwarding does. The learner
// must find both, each algorithm, from exploration alone.
class Convergence : public ::testing::TestWithParam<const char*> {};

TEST_P(Convergence, FindsTheBestActionOfEachState) {
  config::learner_section p;
  p.algorithm = GetParam();
  p.alpha = 0.05;
  p.discount = 0.1;
  p.epsilon_start = 1;
  p.epsilon_decay = 0.9995;
  p.epsilon_min = 0.05;
  agent a(p, seeded(13));
  std::mt19937_64 world(14);
  std::uniform_real_distribution<double> uniform(0, 1);
  // Chance of meeting the deadline, by action: reject, run here, probe one, forward.
  const q_values when_idle{0, 0.95, 0.6, 0.7};
  const q_values when_busy{0, 0.1, 0.6, 0.9};
  for (int step = 0; step < 30000; ++step) {
    const state at = uniform(world) < 0.5 ? idle : busy;
    const choice made = a.act(at);
    const q_values& odds = at == idle ? when_idle : when_busy;
    a.reward(made.eid, uniform(world) < odds[static_cast<int>(made.taken)] ? 1 : 0);
    a.train_pending();
  }
  const q_table table = a.table();
  auto best = [&](const state& s) {
    const q_values& q = table.at(s);
    return static_cast<action>(std::max_element(q.begin(), q.end()) - q.begin());
  };
  EXPECT_EQ(best(idle), action::run_here);
  EXPECT_EQ(best(busy), action::forward_least_loaded);
  EXPECT_GT(a.current_stats().mean_reward_recent, 0.75);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, Convergence, ::testing::Values("q_learning", "sarsa"));

TEST(Agent, ConcurrentDecisionsAndRewardsLoseNothing) {
  agent a(config::learner_section{}, seeded(15));
  std::atomic<bool> stop{false};
  std::thread trainer([&] {
    while (!stop) a.train_pending();
  });
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const choice made = a.act({0, t % 3, i % 4});
        a.reward(made.eid, i % 2);
      }
    });
  }
  for (auto& c : callers) c.join();
  stop = true;
  trainer.join();
  a.train_pending();
  const stats s = a.current_stats();
  EXPECT_EQ(s.decisions, static_cast<std::uint64_t>(threads * per_thread));
  // Every decision but the last has a successor, so all of them were used.
  EXPECT_EQ(s.updates, s.decisions - 1);
  EXPECT_EQ(s.pending, 1U);
  EXPECT_EQ(s.duplicates, 0U);
}

}  // namespace
}  // namespace p2pfaas::learner

namespace p2pfaas::learner {
namespace {

TEST(Agent, AnExperienceSentAgainAfterItsUpdateIsADuplicate) {
  agent a(greedy(), seeded(16));
  const std::vector<experience> batch{{1, idle, action::run_here, 1}, {2, busy, action::reject, 0}};
  EXPECT_EQ(a.submit(batch).accepted, 2U);
  EXPECT_EQ(a.train_pending(), 1U);
  const train_summary again = a.submit(batch);
  EXPECT_EQ(again.accepted, 0U);
  EXPECT_EQ(again.duplicates, 2U);
  EXPECT_EQ(a.train_pending(), 0U);
  EXPECT_DOUBLE_EQ(a.table().at(idle)[1], 0.5);  // updated once
}

}  // namespace
}  // namespace p2pfaas::learner
