#include "scheduler/no_scheduler.hpp"

#include <gtest/gtest.h>

#include "tests/unit/scheduler/fake_cluster_view.hpp"

namespace p2pfaas::scheduler {
namespace {

decision decide(const std::vector<std::string>& params, local_load load) {
  auto built = no_scheduler::make(params, {});
  EXPECT_TRUE(built.built) << built.error;
  testing::fake_cluster_view view;
  view.peers = {testing::peer("idle")};
  return testing::decide(*built.built, {"sleep", 0, {}}, load, view);
}

TEST(NoScheduler, WithoutLossAlwaysRunsHere) {
  for (int running : {0, 1, 2, 5}) {
    EXPECT_EQ(decide({"false"}, {running, 3, 2, 4}).what, action::run_local) << running;
  }
  EXPECT_EQ(decide({}, {2, 0, 2, 0}).what, action::run_local);
}

TEST(NoScheduler, WithLossRejectsExactlyWhenNoSlotIsFree) {
  EXPECT_EQ(decide({"true"}, {0, 0, 2, 4}).what, action::run_local);
  EXPECT_EQ(decide({"true"}, {1, 0, 2, 4}).what, action::run_local);
  EXPECT_EQ(decide({"true"}, {2, 0, 2, 4}).what, action::reject);
  EXPECT_EQ(decide({"True"}, {3, 1, 2, 4}).what, action::reject);
}

TEST(NoScheduler, NormalisesItsParameter) {
  EXPECT_EQ(no_scheduler::make({"1"}, {}).built->parameters(), std::vector<std::string>{"true"});
  EXPECT_EQ(no_scheduler::make({}, {}).built->parameters(), std::vector<std::string>{"false"});
}

}  // namespace
}  // namespace p2pfaas::scheduler
