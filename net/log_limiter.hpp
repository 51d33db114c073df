#pragma once

// Rate limits for log lines that a client can cause: a warning per refused request or failed
// accept is useful at one a second and a denial of service (of the disk, and of whoever reads
// the log) at thousands. Owns only the per-key counting; the caller formats and writes the line.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace p2pfaas::net {

// Whether one line may be written now, and how many lines of its key were dropped since the
// last one that was.
struct log_permit {
  bool allowed = false;
  std::uint64_t suppressed = 0;

  explicit operator bool() const { return allowed; }
  // " (K more suppressed)" when lines were dropped before this one, else "".
  std::string suffix() const;
};

// At most `lines` lines per `interval` for each key; the first line let through after a quiet
// spell says how many were dropped. Thread-safe. Keys are meant to be a few fixed call sites,
// not client data: past max_keys, the oldest quiet keys are forgotten.
class log_limiter {
 public:
  using clock = std::chrono::steady_clock;

  log_limiter(std::size_t lines, clock::duration interval,
              std::function<clock::time_point()> now = clock::now);

  log_permit admit(std::string_view key);

  static constexpr std::size_t max_keys = 256;

 private:
  struct window {
    clock::time_point start;
    std::size_t lines = 0;
    std::uint64_t suppressed = 0;
  };

  const std::size_t lines_;
  const clock::duration interval_;
  const std::function<clock::time_point()> now_;
  std::mutex mutex_;
  std::unordered_map<std::string, window> windows_;
};

}  // namespace p2pfaas::net
