#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::bench {

// When calls are sent, open loop: the times come from the process, never from the answers, so a
// slow cluster cannot slow the load down (and latency is measured from these scheduled times).
class arrival_process {
 public:
  virtual ~arrival_process() = default;
  // The next send time, in seconds from the start; strictly increasing from call to call.
  // Infinity once the process sends nothing more (a trace that ends at rate 0).
  virtual double next() = 0;
};

// `rate` calls per second with exponential gaps (seeded: the same seed gives the same times).
std::unique_ptr<arrival_process> poisson_arrivals(double rate, std::uint64_t seed);
// Exactly one call every 1 / `rate` seconds, the first at 1 / `rate`.
std::unique_ptr<arrival_process> constant_arrivals(double rate);

// From `at_seconds` on, the rate is `rate` (until the next step; the last one holds).
struct rate_step {
  double at_seconds = 0;
  double rate = 0;
  bool operator==(const rate_step&) const = default;
};
// A non-homogeneous Poisson process following the steps (by time rescaling: unit exponential
// gaps in cumulated rate). Steps: at_seconds ascending, the first at 0, rates >= 0.
std::unique_ptr<arrival_process> trace_arrivals(std::vector<rate_step> steps, std::uint64_t seed);

struct trace_result {
  std::vector<rate_step> steps;
  std::string error;  // "trace.csv:3: ..." when the text is not a usable trace
};
// A CSV of "seconds,rate" lines (a header line and '#' comments allowed), e.g. a day of load
// compressed into minutes. `name` is used in errors.
trace_result parse_rate_trace(std::string_view text, std::string_view name);

}  // namespace p2pfaas::bench
