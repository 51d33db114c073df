#include "node/process_stats.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace p2pfaas::node {
namespace {

TEST(ProcessStats, ReadsThisProcess) {
  auto before = read_process_stats();
  EXPECT_GT(before.resident_bytes, 0u);
  EXPECT_GE(before.virtual_bytes, before.resident_bytes);
  EXPECT_GE(before.open_fds, 3);  // stdin, stdout, stderr at least
  EXPECT_GE(before.threads, 1);

  // Touching 64 MiB must show in the resident size; burning CPU in the CPU time.
  std::vector<char> block(64 << 20, 1);
  volatile unsigned sink = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  auto after = read_process_stats();
  EXPECT_GE(after.resident_bytes, before.resident_bytes + (48u << 20));
  EXPECT_GT(after.cpu_seconds, before.cpu_seconds);
  EXPECT_EQ(block[12345], 1);
}

TEST(ProcessStats, StartTimeIsStable) {
  double start = process_start_time_seconds();
  EXPECT_GT(start, 1.7e9);
  EXPECT_EQ(process_start_time_seconds(), start);
}

}  // namespace
}  // namespace p2pfaas::node
