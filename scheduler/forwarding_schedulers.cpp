#include "scheduler/forwarding_schedulers.hpp"

#include "scheduler/parameters.hpp"

namespace p2pfaas::scheduler {

std::vector<peer_info> pick_random(const std::vector<peer_info>& peers, std::size_t count,
                                   const std::function<std::uint64_t()>& random) {
  std::vector<std::size_t> order(peers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  count = std::min(count, order.size());
  std::vector<peer_info> picked;
  picked.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + random() % (order.size() - i);
    std::swap(order[i], order[j]);
    picked.push_back(peers[order[i]]);
  }
  return picked;
}

namespace {

std::optional<int> read_max_hops(std::string_view policy, const std::vector<std::string>& values,
                                 std::string& error) {
  parameter_reader reader(policy, values, {"max_hops"});
  std::optional<int> max_hops;
  if (reader.check_count()) max_hops = reader.integer(0, 1, 0, max_hops_limit);
  if (!max_hops) error = reader.error_text();
  return max_hops;
}

}  // namespace

build_result forward_scheduler::make(const std::vector<std::string>& parameters,
                                     const policy_dependencies& dependencies) {
  std::string error;
  auto max_hops = read_max_hops("ForwardScheduler", parameters, error);
  if (!max_hops) return {nullptr, error};
  return {std::make_shared<forward_scheduler>(*max_hops, dependencies.random), {}};
}

boost::asio::awaitable<decision> forward_scheduler::decide(const call_context& call,
                                                           const local_load&, cluster_view& view) {
  if (call.hops >= max_hops_ || view.candidates().empty()) co_return decision{};
  co_return decision{action::forward, pick_random(view.candidates(), 2, random_)};
}

build_result round_robin_scheduler::make(const std::vector<std::string>& parameters,
                                         const policy_dependencies&) {
  std::string error;
  auto max_hops = read_max_hops("RoundRobinScheduler", parameters, error);
  if (!max_hops) return {nullptr, error};
  return {std::make_shared<round_robin_scheduler>(*max_hops), {}};
}

boost::asio::awaitable<decision> round_robin_scheduler::decide(const call_context& call,
                                                               const local_load&,
                                                               cluster_view& view) {
  const auto& peers = view.candidates();
  if (call.hops >= max_hops_ || peers.empty()) co_return decision{};
  const std::uint64_t turn = next_.fetch_add(1, std::memory_order_relaxed);
  decision d{action::forward, {peers[turn % peers.size()]}};
  if (peers.size() > 1) d.peers.push_back(peers[(turn + 1) % peers.size()]);
  co_return d;
}

}  // namespace p2pfaas::scheduler
