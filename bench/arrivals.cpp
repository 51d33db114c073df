#include "bench/arrivals.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "config/numbers.hpp"

namespace p2pfaas::bench {

namespace {

constexpr double never = std::numeric_limits<double>::infinity();

class poisson final : public arrival_process {
 public:
  poisson(double rate, std::uint64_t seed) : engine_(seed), gap_(rate) {}
  double next() override { return now_ += gap_(engine_); }

 private:
  std::mt19937_64 engine_;
  std::exponential_distribution<double> gap_;
  double now_ = 0;
};

class constant final : public arrival_process {
 public:
  explicit constant(double rate) : gap_(1 / rate) {}
  // By count, not by sum: no drift however long the run.
  double next() override { return static_cast<double>(++count_) * gap_; }

 private:
  double gap_;
  std::uint64_t count_ = 0;
};

class trace final : public arrival_process {
 public:
  trace(std::vector<rate_step> steps, std::uint64_t seed)
      : steps_(std::move(steps)), engine_(seed) {}

  double next() override {
    // Cumulated rate to spend before the next call, walked through the steps from where the last
    // call was.
    double budget = unit_(engine_);
    while (step_ < steps_.size()) {
      const double rate = steps_[step_].rate;
      const double end = step_ + 1 < steps_.size() ? steps_[step_ + 1].at_seconds : never;
      if (rate > 0 && now_ + budget / rate <= end) {
        now_ += budget / rate;
        return now_;
      }
      if (end == never) break;  // the last step, at rate 0
      budget -= rate * (end - now_);
      now_ = end;
      ++step_;
    }
    now_ = never;
    return now_;
  }

 private:
  std::vector<rate_step> steps_;
  std::mt19937_64 engine_;
  std::exponential_distribution<double> unit_{1.0};
  std::size_t step_ = 0;
  double now_ = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<double> number(std::string_view s) {
  return config::parse_finite(trim(s));
}

}  // namespace

std::unique_ptr<arrival_process> poisson_arrivals(double rate, std::uint64_t seed) {
  return std::make_unique<poisson>(rate, seed);
}

std::unique_ptr<arrival_process> constant_arrivals(double rate) {
  return std::make_unique<constant>(rate);
}

std::unique_ptr<arrival_process> trace_arrivals(std::vector<rate_step> steps, std::uint64_t seed) {
  return std::make_unique<trace>(std::move(steps), seed);
}

trace_result parse_rate_trace(std::string_view text, std::string_view name) {
  trace_result out;
  auto fail = [&](std::size_t line, const std::string& why) {
    out.steps.clear();
    out.error = std::string(name) + ":" + std::to_string(line) + ": " + why;
    return out;
  };
  std::size_t line_number = 0;
  bool first_content = true;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const auto comma = line.find(',');
    if (comma == std::string_view::npos || line.find(',', comma + 1) != std::string_view::npos) {
      if (first_content) {
        first_content = false;
        continue;  // a header such as "seconds,rate" has a comma; anything else is an error
      }
      return fail(line_number, "must be \"seconds,rate\" (got \"" + std::string(line) + "\")");
    }
    auto at = number(line.substr(0, comma));
    auto rate = number(line.substr(comma + 1));
    if (!at || !rate) {
      if (first_content) {
        first_content = false;
        continue;  // the header
      }
      return fail(line_number,
                  "must be two numbers \"seconds,rate\" (got \"" + std::string(line) + "\")");
    }
    first_content = false;
    if (*rate < 0) return fail(line_number, "the rate must be >= 0");
    if (out.steps.empty() && *at != 0) return fail(line_number, "the first step must be at 0 s");
    if (!out.steps.empty() && !(*at > out.steps.back().at_seconds)) {
      return fail(line_number, "times must increase");
    }
    out.steps.push_back({*at, *rate});
  }
  if (out.steps.empty()) return fail(line_number, "no \"seconds,rate\" line");
  return out;
}

}  // namespace p2pfaas::bench
