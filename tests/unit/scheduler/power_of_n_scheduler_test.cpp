#include "scheduler/power_of_n_scheduler.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/scheduler/fake_cluster_view.hpp"

namespace p2pfaas::scheduler {
namespace {

using testing::ids;
using testing::peer;

// The decisions of API.md's table, for a node with 2 slots: "here if own load < threshold or hop
// limit reached; else probe `fanout` distinct random peers and forward to the least loaded if it
// is below own load, else here (or reject if loss and full)".
class PowerOfN : public ::testing::Test {
 protected:
  PowerOfN() {
    view_.peers = {peer("b"), peer("c"), peer("d")};
    for (const auto& p : view_.peers) view_.probe_answers[p.id] = {0, 0, 2, 0.02};
  }

  std::shared_ptr<policy> build(std::vector<std::string> params, std::uint64_t seed = 3) {
    auto built = power_of_n_scheduler::make(params, {testing::seeded(seed)});
    EXPECT_TRUE(built.built) << built.error;
    return built.built;
  }
  decision decide(const std::vector<std::string>& params, local_load load, int hops = 0,
                  std::optional<double> deadline_left = {}) {
    return testing::decide(*build(params), {"sleep", hops, deadline_left}, load, view_);
  }

  testing::fake_cluster_view view_;
};

TEST_F(PowerOfN, BelowTheThresholdRunsHereWithoutProbing) {
  EXPECT_EQ(decide({"2", "2", "true", "1"}, {1, 0, 2, 2}).what, action::run_local);
  EXPECT_EQ(decide({"2", "3", "false", "1"}, {2, 0, 2, 2}).what, action::run_local);
  EXPECT_TRUE(view_.probed.empty());
}

TEST_F(PowerOfN, AtTheThresholdProbesFanoutDistinctPeersAndTakesTheLeastLoaded) {
  view_.probe_answers["b"] = {1, 0, 2, 0.02};
  view_.probe_answers["c"] = {0, 0, 2, 0.02};
  view_.probe_answers["d"] = {2, 0, 2, 0.02};
  decision d = decide({"3", "2", "true", "1"}, {2, 0, 2, 2});
  ASSERT_EQ(view_.probed.size(), 1U);
  EXPECT_EQ(view_.probed[0].size(), 3U);  // fanout 3: each peer once
  EXPECT_EQ(d.what, action::forward);
  // c (0/2), then b (1/2) as the fallback; d (2/2) is not below this node's 2/2.
  EXPECT_EQ(ids(d), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(d.peers[0].load.running, 0);  // the probed load, not the gossiped one
}

TEST_F(PowerOfN, ProbesOnlyFanoutPeersAtRandomDeterminedByTheSeed) {
  std::set<std::string> probed;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    view_.probed.clear();
    testing::decide(*build({"2", "0", "false", "1"}, seed), {"sleep", 0, {}}, {2, 0, 2, 2}, view_);
    ASSERT_EQ(view_.probed.size(), 1U);
    ASSERT_EQ(view_.probed[0].size(), 2U);
    EXPECT_NE(view_.probed[0][0], view_.probed[0][1]);
    probed.insert(view_.probed[0].begin(), view_.probed[0].end());
    // The same seed probes the same peers.
    auto again = view_.probed[0];
    view_.probed.clear();
    testing::decide(*build({"2", "0", "false", "1"}, seed), {"sleep", 0, {}}, {2, 0, 2, 2}, view_);
    EXPECT_EQ(view_.probed[0], again);
  }
  EXPECT_EQ(probed.size(), 3U);
}

TEST_F(PowerOfN, WhenEveryPeerIsAsBusyItRunsHereOrRejectsWithLoss) {
  for (auto& [id, load] : view_.probe_answers) load = {2, 1, 2, 0.02};  // 1.5 per slot
  EXPECT_EQ(decide({"3", "1", "false", "1"}, {2, 1, 2, 2}).what, action::run_local);  // equal
  EXPECT_EQ(decide({"3", "1", "true", "1"}, {2, 1, 2, 2}).what, action::reject);      // full
  // With loss but a free slot, here it runs.
  for (auto& [id, load] : view_.probe_answers) load = {1, 0, 1, 0.02};  // 1 per slot
  EXPECT_EQ(decide({"3", "1", "true", "1"}, {1, 0, 2, 2}).what, action::run_local);
}

TEST_F(PowerOfN, PeersAreComparedByLoadPerSlot) {
  view_.peers = {peer("big"), peer("small")};
  view_.probe_answers = {{"big", {3, 0, 4, 0}}, {"small", {1, 0, 1, 0}}};
  // Own 2 calls on 2 slots = 1.0; big 3/4 = 0.75 is below it although 3 > 2; small 1/1 is not.
  decision d = decide({"2", "1", "false", "1"}, {2, 0, 2, 2});
  EXPECT_EQ(ids(d), std::vector<std::string>{"big"});
}

TEST_F(PowerOfN, AFailedProbeNeverCountsAsIdle) {
  view_.probe_answers.erase("b");  // b does not answer
  view_.probe_answers["c"] = {2, 2, 2, 0.02};
  view_.probe_answers["d"] = {2, 2, 2, 0.02};
  decision d = decide({"3", "1", "false", "1"}, {2, 0, 2, 2});
  EXPECT_EQ(d.what, action::run_local);
  view_.probe_answers.clear();  // nobody answers
  EXPECT_EQ(decide({"3", "1", "true", "1"}, {2, 0, 2, 2}).what, action::reject);
  EXPECT_EQ(decide({"3", "1", "false", "1"}, {2, 0, 2, 2}).what, action::run_local);
}

TEST_F(PowerOfN, AtTheHopLimitItRunsHereWithoutProbing) {
  EXPECT_EQ(decide({"2", "1", "false", "1"}, {2, 2, 2, 2}, 1).what, action::run_local);
  EXPECT_EQ(decide({"2", "1", "true", "1"}, {2, 2, 2, 2}, 1).what, action::reject);
  EXPECT_TRUE(view_.probed.empty());
  EXPECT_EQ(decide({"2", "1", "false", "2"}, {2, 2, 2, 2}, 1).what, action::forward);
  EXPECT_EQ(decide({"2", "1", "false", "0"}, {2, 2, 2, 2}, 0).what, action::run_local);
}

TEST_F(PowerOfN, WithoutCandidatesItRunsHere) {
  view_.peers.clear();  // everyone else is on the call's path, or dead
  EXPECT_EQ(decide({"2", "0", "false", "2"}, {2, 2, 2, 2}).what, action::run_local);
  EXPECT_TRUE(view_.probed.empty());
}

TEST_F(PowerOfN, TheGossipSourceReadsRecordsAndNeverProbes) {
  view_.peers = {peer("b", 2, 0, 2), peer("c", 0, 1, 2), peer("unknown", 0, 0, 0)};
  decision d = decide({"3", "1", "false", "1", "gossip"}, {2, 0, 2, 2});
  EXPECT_TRUE(view_.probed.empty());
  // c (1/2) only: b (2/2) is not below own 2/2, and a peer without a record is not idle.
  EXPECT_EQ(ids(d), std::vector<std::string>{"c"});
}

TEST_F(PowerOfN, ACallThatWouldMissItsDeadlineHereLooksForAPeer) {
  // 1 call running on 2 slots is below the threshold of 2, and a 20 ms call starts at once here:
  // 0.02 s to finish.
  const local_load load{1, 0, 2, 2, 0.02};
  EXPECT_DOUBLE_EQ(power_of_n_scheduler::expected_completion_seconds(load), 0.02);
  EXPECT_EQ(decide({"1", "2", "false", "1"}, load, 0, 0.05).what, action::run_local);
  EXPECT_EQ(decide({"1", "2", "false", "1"}, load, 0, 0.01).what, action::forward);
  // With both slots busy and 1 queued, a call waits (1 + 1) / 2 service times, then runs one.
  EXPECT_DOUBLE_EQ(power_of_n_scheduler::expected_completion_seconds({2, 1, 2, 2, 0.02}), 0.04);
}

TEST(PowerOfNParameters, ValidatedWithTheirNames) {
  auto error = [](std::vector<std::string> p) {
    return power_of_n_scheduler::make(p, {testing::seeded(1)}).error;
  };
  EXPECT_EQ(error({"0", "2", "true", "1"}),
            "parameters[0] (fanout): must be between 1 and 64 (got 0)");
  EXPECT_EQ(error({"2", "x", "true", "1"}),
            "parameters[1] (threshold): must be an integer (got \"x\")");
  EXPECT_EQ(error({"2", "2", "yes", "1"}),
            "parameters[2] (loss): must be true or false (got \"yes\")");
  EXPECT_EQ(error({"2", "2", "true", "99"}),
            "parameters[3] (max_hops): must be between 0 and 64 (got 99)");
  EXPECT_EQ(error({"2", "2", "true", "1", "psychic"}),
            "parameters[4] (source): must be probe or gossip (got \"psychic\")");
  EXPECT_EQ(error({"2", "2", "true", "1", "probe", "6"}),
            "PowerOfNScheduler takes at most 5 parameters [fanout, threshold, loss, max_hops, "
            "source] (got 6)");
  auto built = power_of_n_scheduler::make({"2", "2", "True", "1"}, {testing::seeded(1)});
  ASSERT_TRUE(built.built);
  EXPECT_EQ(built.built->parameters(), (std::vector<std::string>{"2", "2", "true", "1"}));
  built = power_of_n_scheduler::make({"2", "2", "true", "1", "gossip"}, {testing::seeded(1)});
  EXPECT_EQ(built.built->parameters(), (std::vector<std::string>{"2", "2", "true", "1", "gossip"}));
}

}  // namespace
}  // namespace p2pfaas::scheduler
