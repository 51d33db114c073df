#include "config/byte_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace p2pfaas::config {
namespace {

TEST(ByteBudget, ReservesAllOrNothingAndGivesBackOnDestruction) {
  byte_budget budget(100);
  {
    auto first = budget.try_reserve(60);
    ASSERT_TRUE(first);
    EXPECT_EQ(budget.held(), 60u);
    EXPECT_FALSE(budget.try_reserve(41));  // 101 > 100: nothing taken
    EXPECT_EQ(budget.held(), 60u);
    EXPECT_EQ(budget.refused(), 1u);
    auto second = budget.try_reserve(40);
    EXPECT_TRUE(second);
    EXPECT_EQ(budget.held(), 100u);
  }
  EXPECT_EQ(budget.held(), 0u);
}

TEST(ByteBudget, AHugeRequestDoesNotWrapAround) {
  byte_budget budget(100);
  auto held = budget.try_reserve(50);
  EXPECT_FALSE(budget.try_reserve(UINT64_MAX));
  EXPECT_FALSE(budget.try_reserve(UINT64_MAX - 20));
  EXPECT_EQ(budget.held(), 50u);
}

TEST(ByteBudget, MovedReservationsReleaseOnce) {
  byte_budget budget(10);
  byte_budget::reservation outer;
  {
    auto inner = budget.try_reserve(7);
    outer = std::move(inner);
  }
  EXPECT_EQ(budget.held(), 7u);
  outer.release();
  outer.release();
  EXPECT_EQ(budget.held(), 0u);
}

TEST(ByteBudget, ALowerLimitRefusesNewReservationsOnly) {
  byte_budget budget(100);
  auto held = budget.try_reserve(80);
  budget.set_limit(50);
  EXPECT_EQ(budget.held(), 80u);
  EXPECT_FALSE(budget.try_reserve(1));
  held.release();
  EXPECT_TRUE(budget.try_reserve(50));
}

TEST(ByteBudget, ConcurrentReservationsNeverExceedTheCapacity) {
  byte_budget budget(1000);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        auto held = budget.try_reserve(300);
        if (budget.held() > 1000) over = true;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(over);
  EXPECT_EQ(budget.held(), 0u);
}

}  // namespace
}  // namespace p2pfaas::config
