#pragma once

#include <cstdint>

namespace p2pfaas::node {

struct process_stats {
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;  // user + system
  int open_fds = 0;
  int threads = 0;
};

// Reads this process's figures from /proc (Linux).
process_stats read_process_stats();
double process_start_time_seconds();  // since the Unix epoch

}  // namespace p2pfaas::node
