#include "learner/state.hpp"

#include <algorithm>
#include <charconv>

#include "config/numbers.hpp"

namespace p2pfaas::learner {

std::string_view to_string(action what) {
  switch (what) {
    case action::reject:
      return "reject";
    case action::run_here:
      return "run_here";
    case action::probe_one:
      return "probe_one";
    case action::forward_least_loaded:
      return "forward";
  }
  return "unknown";
}

std::string to_string(const state& s) {
  return std::to_string(s.task_type) + ',' + std::to_string(s.own_load) + ',' +
         std::to_string(s.peer_load);
}

namespace {

// A plain decimal int in [0, bound]: no sign, no spaces, no leading zeros.
std::optional<int> parse_index(std::string_view text, int bound) {
  if (text.empty() || text.size() > 4 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > bound) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<state> parse_state(std::string_view text, int own_buckets, int peer_buckets) {
  const auto first = text.find(',');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = text.find(',', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto task = parse_index(text.substr(0, first), max_task_type);
  auto own = parse_index(text.substr(first + 1, second - first - 1), own_buckets - 1);
  auto peer = parse_index(text.substr(second + 1), peer_buckets - 1);
  if (!task || !own || !peer) return std::nullopt;
  return state{*task, *own, *peer};
}

std::optional<double> parse_number(std::string_view text) {
  return config::parse_finite(text);
}

std::optional<action> parse_action(std::string_view text) {
  auto number = parse_number(text);
  if (!number || *number != std::floor(*number) || *number < 0 || *number >= action_count) {
    return std::nullopt;
  }
  return static_cast<action>(static_cast<int>(*number));
}

std::optional<std::uint64_t> parse_eid(std::string_view text) {
  return config::parse_whole<std::uint64_t>(text);
}

int bucket_of(double value, const std::vector<double>& boundaries) {
  return static_cast<int>(std::upper_bound(boundaries.begin(), boundaries.end(), value) -
                          boundaries.begin());
}

}  // namespace p2pfaas::learner
