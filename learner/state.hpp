#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::learner {

// What the learner may do with a call. The numbers are P2PFaaS's: 0 reject, 1 run here, 2 probe
// one random peer and forward there if it is less loaded (power of one); P2PFaaS's 3+ forward to
// the peer at that index, which here is the least loaded known peer.
enum class action : int { reject = 0, run_here = 1, probe_one = 2, forward_least_loaded = 3 };
inline constexpr int action_count = 4;
inline constexpr std::array<action, action_count> all_actions{
    action::reject, action::run_here, action::probe_one, action::forward_least_loaded};
std::string_view to_string(action what);  // "reject", "run_here", "probe_one", "forward"

// What the learner sees of a call: its task type and two load buckets.
struct state {
  int task_type = 0;
  int own_load = 0;   // bucket of this node's load per slot
  int peer_load = 0;  // bucket of the least loaded known peer's; the top one when none is known

  auto operator<=>(const state&) const = default;
};

inline constexpr int max_task_type = 1023;  // functions.<name>.task_type's bound
inline constexpr int max_buckets = 33;      // 32 boundaries

// "task,own,peer" in decimal, as the node emits it in X-P2pfaas-Scheduler-Learning-State
// (P2PFaaS's tools read a state as comma-separated numbers).
std::string to_string(const state& s);
// Exactly the form to_string writes, each part within [0, bound]; nullopt otherwise.
std::optional<state> parse_state(std::string_view text, int own_buckets, int peer_buckets);
// An action number: "2", or "2.000000" as P2PFaaS's scheduler writes it.
std::optional<action> parse_action(std::string_view text);
// A finite decimal number (config::parse_finite).
std::optional<double> parse_number(std::string_view text);
// An experience id: a decimal unsigned integer.
std::optional<std::uint64_t> parse_eid(std::string_view text);

// The bucket of `value` given ascending `boundaries`: how many of them are <= value.
int bucket_of(double value, const std::vector<double>& boundaries);

}  // namespace p2pfaas::learner
