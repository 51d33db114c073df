#include "scheduler/learning_scheduler.hpp"

#include <gtest/gtest.h>

#include "tests/unit/scheduler/fake_cluster_view.hpp"

namespace p2pfaas::scheduler {
namespace {

using testing::ids;
using testing::peer;

std::string header(const decision& d, std::string_view name) {
  for (const auto& [key, value] : d.response_headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

// The learner is greedy over a table the test writes, so each decision is known in advance.
class Learning : public ::testing::Test {
 protected:
  Learning() {
    config::learner_section p;
    p.epsilon_start = p.epsilon_min = 0;
    p.alpha = 1;
    p.discount = 0;
    agent_ = std::make_shared<learner::agent>(p, testing::seeded(1));
    view_.peers = {peer("b", 2, 0, 2), peer("c", 0, 0, 2), peer("d", 1, 0, 2)};
  }

  // Makes `best` the greedy action of every state this test uses.
  void prefer(learner::action best) {
    learner::q_table table;
    for (int t = 0; t < 3; ++t)
      for (int o = 0; o < 6; ++o)
        for (int p = 0; p < 6; ++p) table[{t, o, p}][static_cast<int>(best)] = 1;
    agent_->replace_table(std::move(table));
  }

  decision decide(local_load load, int task_type = 0, int hops = 0,
                  std::vector<std::string> params = {"2"}) {
    auto built = learning_scheduler::make(params, {testing::seeded(2), agent_});
    EXPECT_TRUE(built.built) << built.error;
    call_context call{"sleep", hops, {}, task_type};
    return testing::decide(*built.built, call, load, view_);
  }

  std::shared_ptr<learner::agent> agent_;
  testing::fake_cluster_view view_;
};

TEST_F(Learning, ParametersAreTaskTypesAndANodeWithoutLearnerCannotBuildIt) {
  EXPECT_FALSE(learning_scheduler::make({"0"}, {testing::seeded(1), agent_}).built);
  EXPECT_FALSE(learning_scheduler::make({"1", "2"}, {testing::seeded(1), agent_}).built);
  auto none = learning_scheduler::make({"1"}, {testing::seeded(1), nullptr});
  EXPECT_EQ(none.error, "LearningScheduler: this node has no learner");
  auto built = learning_scheduler::make({}, {testing::seeded(1), agent_});
  ASSERT_TRUE(built.built);
  EXPECT_EQ(built.built->parameters(), std::vector<std::string>{"1"});
}

TEST_F(Learning, EachActionBecomesItsDecision) {
  prefer(learner::action::reject);
  EXPECT_EQ(decide({1, 0, 2, 4}).what, action::reject);
  prefer(learner::action::run_here);
  EXPECT_EQ(decide({1, 0, 2, 4}).what, action::run_local);

  prefer(learner::action::forward_least_loaded);
  decision forward = decide({4, 2, 2, 4});
  EXPECT_EQ(forward.what, action::forward);
  EXPECT_EQ(ids(forward), (std::vector<std::string>{"c", "d"}));  // least loaded first
  EXPECT_TRUE(view_.probed.empty());                              // by gossip

  prefer(learner::action::probe_one);
  view_.probe_answers = {{"b", {0, 0, 2}}, {"c", {0, 0, 2}}, {"d", {0, 0, 2}}};
  decision probed = decide({2, 0, 2, 4});
  ASSERT_EQ(view_.probed.size(), 1U);
  EXPECT_EQ(view_.probed[0].size(), 1U);
  EXPECT_EQ(probed.what, action::forward);
  EXPECT_EQ(ids(probed), view_.probed[0]);
}

TEST_F(Learning, PowerOfOneStaysHereWhenThePeerIsNoLessLoaded) {
  prefer(learner::action::probe_one);
  view_.probe_answers = {{"b", {2, 0, 2}}, {"c", {2, 0, 2}}, {"d", {2, 0, 2}}};
  EXPECT_EQ(decide({2, 0, 2, 4}).what, action::run_local);
  view_.probe_answers.clear();  // no answer: not taken for idle
  EXPECT_EQ(decide({2, 0, 2, 4}).what, action::run_local);
}

TEST_F(Learning, HeadersNameTheStateTheActionAndEpsilon) {
  prefer(learner::action::run_here);
  // Own 3/2 = 1.5 per slot (bucket 3); the least loaded peer c is at 0 (bucket 0).
  decision d = decide({2, 1, 2, 4}, 1);
  EXPECT_EQ(header(d, "X-P2pfaas-Scheduler-Learning-State"), "1,3,0");
  EXPECT_EQ(header(d, "X-P2pfaas-Scheduler-Learning-Action"), "1");
  EXPECT_EQ(header(d, "X-P2pfaas-Scheduler-Learning-Eps"), "0");
  EXPECT_EQ(header(d, "X-P2pfaas-Scheduler-Learning-Eid"), "1");
  EXPECT_EQ(header(decide({0, 0, 2, 4}), "X-P2pfaas-Scheduler-Learning-Eid"), "2");
}

TEST_F(Learning, TaskTypesBeyondTheParameterShareTheLastAndNoPeerIsTheTopBucket) {
  prefer(learner::action::run_here);
  view_.peers.clear();
  decision d = decide({0, 0, 2, 4}, 7);  // task_types = 2
  EXPECT_EQ(header(d, "X-P2pfaas-Scheduler-Learning-State"), "1,0,5");
}

TEST_F(Learning, TheOutcomeIsTheReward) {
  prefer(learner::action::run_here);
  decision first = decide({0, 0, 2, 4});
  decision second = decide({0, 0, 2, 4});
  ASSERT_TRUE(first.on_finished);
  first.on_finished({200, false, true});
  agent_->train_pending();
  // alpha 1, discount 0: Q becomes the reward.
  EXPECT_EQ(agent_->table().at({0, 0, 0})[1], 1);
  second.on_finished({200, false, false});  // late
  decide({0, 0, 2, 4});
  agent_->train_pending();
  EXPECT_EQ(agent_->table().at({0, 0, 0})[1], 0);
}

TEST_F(Learning, WithClientRewardsTheNodeFeedsNone) {
  config::learner_section p = agent_->parameters();
  p.reward_source = "client";
  agent_->set_parameters(p);
  prefer(learner::action::run_here);
  EXPECT_FALSE(decide({0, 0, 2, 4}).on_finished);
  EXPECT_EQ(header(decide({0, 0, 2, 4}), "X-P2pfaas-Scheduler-Learning-Eid"), "2");
}

TEST_F(Learning, AForwardedCallRunsHereUndecided) {
  prefer(learner::action::reject);
  decision d = decide({2, 2, 2, 4}, 0, 1);
  EXPECT_EQ(d.what, action::run_local);
  EXPECT_TRUE(d.response_headers.empty());
  EXPECT_EQ(agent_->current_stats().decisions, 0U);
}

}  // namespace
}  // namespace p2pfaas::scheduler
