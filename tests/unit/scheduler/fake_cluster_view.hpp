#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <random>

#include "scheduler/policy.hpp"

namespace p2pfaas::scheduler::testing {

// Peers as a test declares them; probes answer what the test says (nothing, for a peer it did
// not give an answer for) and are recorded.
class fake_cluster_view final : public cluster_view {
 public:
  std::vector<peer_info> peers;
  std::map<std::string, peer_load> probe_answers;
  std::vector<std::vector<std::string>> probed;  // the ids of each probe() call

  const std::vector<peer_info>& candidates() const override { return peers; }
  boost::asio::awaitable<std::vector<std::optional<peer_load>>> probe(
      std::vector<peer_info> asked) override {
    std::vector<std::optional<peer_load>> out;
    std::vector<std::string> ids;
    for (const auto& p : asked) {
      ids.push_back(p.id);
      auto it = probe_answers.find(p.id);
      out.push_back(it == probe_answers.end() ? std::nullopt : std::optional(it->second));
    }
    probed.push_back(std::move(ids));
    co_return out;
  }
};

inline peer_info peer(std::string id, int running = 0, int queued = 0, int slots = 1) {
  return {id, id + ":18080", {running, queued, slots, 0.02}};
}

// Runs one decision to its end.
inline decision decide(policy& p, const call_context& call, const local_load& load,
                       cluster_view& view) {
  boost::asio::io_context io;
  auto done = boost::asio::co_spawn(io, p.decide(call, load, view), boost::asio::use_future);
  io.run();
  return done.get();
}

// A seeded generator, as a policy takes it.
inline std::function<std::uint64_t()> seeded(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] { return (*engine)(); };
}

inline std::vector<std::string> ids(const decision& d) {
  std::vector<std::string> out;
  for (const auto& p : d.peers) out.push_back(p.id);
  return out;
}

}  // namespace p2pfaas::scheduler::testing
