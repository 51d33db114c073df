#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "config/config.hpp"

namespace p2pfaas::config {
namespace {

std::shared_ptr<const config> with_generation(int generation) {
  auto value = std::make_shared<config>(defaults());
  // Two fields written together: a torn read would see them differ.
  value->executor.slots = generation;
  value->executor.queue = generation;
  return value;
}

TEST(Holder, GetReturnsTheInitialConfig) {
  config initial = defaults();
  initial.executor.slots = 3;
  const holder live(initial);
  ASSERT_NE(live.get(), nullptr);
  EXPECT_EQ(*live.get(), initial);
}

TEST(Holder, SetPublishesAndOldSnapshotsStayIntact) {
  holder live(defaults());
  const auto before = live.get();
  live.set(with_generation(7));
  EXPECT_EQ(live.get()->executor.slots, 7);
  EXPECT_EQ(before->executor.slots, defaults().executor.slots);
  EXPECT_NE(before.get(), live.get().get());
}

TEST(Holder, RejectsNull) {
  holder live(defaults());
  EXPECT_THROW(live.set(nullptr), std::invalid_argument);
  EXPECT_NE(live.get(), nullptr);
}

TEST(Holder, ReadersAlwaysSeeAWholeConfigWhileAWriterSwaps) {
  holder live(*with_generation(1));
  constexpr int generations = 3000;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> backwards{0};
  std::atomic<long> reads{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int last = 0;
      // Reads at least once after the writer finished, so the final value is observed too.
      while (true) {
        const bool finished = done.load();
        const auto snapshot = live.get();
        if (snapshot->executor.slots != snapshot->executor.queue) ++torn;
        if (snapshot->executor.slots < last) ++backwards;
        last = snapshot->executor.slots;
        ++reads;
        if (finished) break;
      }
      EXPECT_EQ(last, generations);
    });
  }
  for (int g = 2; g <= generations; ++g) live.set(with_generation(g));
  done = true;
  for (auto& t : readers) t.join();

  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GE(reads.load(), 3);
  EXPECT_EQ(live.get()->executor.slots, generations);
}

}  // namespace
}  // namespace p2pfaas::config
