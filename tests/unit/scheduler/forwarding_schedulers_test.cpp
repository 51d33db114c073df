#include "scheduler/forwarding_schedulers.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/scheduler/fake_cluster_view.hpp"

namespace p2pfaas::scheduler {
namespace {

using testing::ids;
using testing::peer;

std::shared_ptr<policy> build(build_result (*make)(const std::vector<std::string>&,
                                                   const policy_dependencies&),
                              std::vector<std::string> params, std::uint64_t seed = 7) {
  auto built = make(params, {testing::seeded(seed)});
  EXPECT_TRUE(built.built) << built.error;
  return built.built;
}

class ForwardScheduler : public ::testing::Test {
 protected:
  ForwardScheduler() { view_.peers = {peer("b"), peer("c"), peer("d")}; }
  testing::fake_cluster_view view_;
  local_load idle_{0, 0, 2, 2};
};

TEST_F(ForwardScheduler, ForwardsToARandomPeerWithADistinctFallback) {
  auto p = build(&forward_scheduler::make, {"1"});
  std::set<std::string> firsts;
  for (int i = 0; i < 60; ++i) {
    decision d = testing::decide(*p, {"echo", 0, {}}, idle_, view_);
    ASSERT_EQ(d.what, action::forward);
    ASSERT_EQ(d.peers.size(), 2U);
    EXPECT_NE(d.peers[0].id, d.peers[1].id);
    firsts.insert(d.peers[0].id);
  }
  EXPECT_EQ(firsts, (std::set<std::string>{"b", "c", "d"}));  // even when idle here
  EXPECT_TRUE(view_.probed.empty());
}

TEST_F(ForwardScheduler, TheSameSeedMakesTheSameChoices) {
  auto a = build(&forward_scheduler::make, {"1"}, 99);
  auto b = build(&forward_scheduler::make, {"1"}, 99);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(ids(testing::decide(*a, {"echo", 0, {}}, idle_, view_)),
              ids(testing::decide(*b, {"echo", 0, {}}, idle_, view_)));
  }
}

TEST_F(ForwardScheduler, RunsHereAtTheHopLimitOrWithoutPeers) {
  auto p = build(&forward_scheduler::make, {"2"});
  EXPECT_EQ(testing::decide(*p, {"echo", 1, {}}, idle_, view_).what, action::forward);
  EXPECT_EQ(testing::decide(*p, {"echo", 2, {}}, idle_, view_).what, action::run_local);
  auto never = build(&forward_scheduler::make, {"0"});
  EXPECT_EQ(testing::decide(*never, {"echo", 0, {}}, idle_, view_).what, action::run_local);
  view_.peers.clear();
  EXPECT_EQ(testing::decide(*p, {"echo", 0, {}}, idle_, view_).what, action::run_local);
}

TEST_F(ForwardScheduler, OnePeerMeansNoFallbackPeer) {
  view_.peers = {peer("b")};
  auto d = testing::decide(*build(&forward_scheduler::make, {}), {"echo", 0, {}}, idle_, view_);
  EXPECT_EQ(ids(d), std::vector<std::string>{"b"});
}

TEST(RoundRobinScheduler, TakesPeersInTurnTheNextOneAsFallback) {
  testing::fake_cluster_view view;
  view.peers = {peer("b"), peer("c"), peer("d")};
  auto p = build(&round_robin_scheduler::make, {"1"});
  std::vector<std::vector<std::string>> seen;
  for (int i = 0; i < 4; ++i) seen.push_back(ids(testing::decide(*p, {"echo", 0, {}}, {}, view)));
  EXPECT_EQ(seen, (std::vector<std::vector<std::string>>{
                      {"b", "c"}, {"c", "d"}, {"d", "b"}, {"b", "c"}}));
  EXPECT_EQ(testing::decide(*p, {"echo", 1, {}}, {}, view).what, action::run_local);
}

TEST(ForwardingSchedulers, ValidateMaxHops) {
  for (auto make : {&forward_scheduler::make, &round_robin_scheduler::make}) {
    EXPECT_EQ(make({"-1"}, {testing::seeded(1)}).error,
              "parameters[0] (max_hops): must be between 0 and 64 (got -1)");
    EXPECT_EQ(make({"two"}, {testing::seeded(1)}).error,
              "parameters[0] (max_hops): must be an integer (got \"two\")");
    EXPECT_FALSE(make({"1", "2"}, {testing::seeded(1)}).built);
    EXPECT_EQ(make({}, {testing::seeded(1)}).built->parameters(), std::vector<std::string>{"1"});
  }
}

}  // namespace
}  // namespace p2pfaas::scheduler
