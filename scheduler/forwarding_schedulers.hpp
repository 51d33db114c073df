#pragma once

#include <atomic>

#include "scheduler/policy_registry.hpp"

namespace p2pfaas::scheduler {

// ForwardScheduler [max_hops]: every call goes to a random alive peer (a second random one is the
// fallback); here once the call has been through max_hops peers, or when there is no peer.
class forward_scheduler final : public policy {
 public:
  forward_scheduler(int max_hops, std::function<std::uint64_t()> random)
      : max_hops_(max_hops), random_(std::move(random)) {}
  static build_result make(const std::vector<std::string>& parameters,
                           const policy_dependencies& dependencies);

  std::string_view name() const override { return "ForwardScheduler"; }
  std::vector<std::string> parameters() const override { return {std::to_string(max_hops_)}; }
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                          cluster_view& view) override;

 private:
  const int max_hops_;
  const std::function<std::uint64_t()> random_;
};

// RoundRobinScheduler [max_hops]: calls go to the alive peers in turn (by id), the next one in
// turn being the fallback; here once the call has been through max_hops peers, or with no peer.
class round_robin_scheduler final : public policy {
 public:
  explicit round_robin_scheduler(int max_hops) : max_hops_(max_hops) {}
  static build_result make(const std::vector<std::string>& parameters,
                           const policy_dependencies& dependencies);

  std::string_view name() const override { return "RoundRobinScheduler"; }
  std::vector<std::string> parameters() const override { return {std::to_string(max_hops_)}; }
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load& load,
                                          cluster_view& view) override;

 private:
  const int max_hops_;
  std::atomic<std::uint64_t> next_{0};
};

// Up to `count` distinct peers of `peers`, in random order (a partial Fisher-Yates shuffle).
std::vector<peer_info> pick_random(const std::vector<peer_info>& peers, std::size_t count,
                                   const std::function<std::uint64_t()>& random);

// The most hops any policy accepts: a path is at most max_peer_list_entries long on the wire.
inline constexpr int max_hops_limit = 64;

}  // namespace p2pfaas::scheduler
