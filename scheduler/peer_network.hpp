#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/peer_link.hpp"
#include "net/peer_protocol.hpp"

namespace p2pfaas::scheduler {

// How busy a peer is, in the units of API.md.
struct peer_load {
  int running = 0;
  int queued = 0;
  int slots = 0;  // 0: unknown (no record yet)
  double recent_service_seconds = 0;
  std::uint64_t version = 0;  // of a gossiped record, which grows with each one; 0 otherwise

  int total() const { return running + queued; }
  // Nodes of different sizes are compared by load per slot.
  double per_slot() const { return static_cast<double>(total()) / std::max(1, slots); }
  bool known() const { return slots > 0; }
};

// A peer as the scheduler sees it: where it is and how busy it said it was.
struct peer_info {
  std::string id;
  std::string address;  // host:port of its HTTP listener
  peer_load load;       // as last gossiped
};

// What the dispatcher needs of the cluster: who is alive, and a way to hand a call to one of
// them. The node implements it with gossip membership and WebSocket links; tests with a fake.
class peer_network {
 public:
  virtual ~peer_network() = default;
  // Peers currently believed alive, this node excluded. Called for every decision: cheap.
  virtual std::vector<peer_info> alive_peers() const = 0;
  // Runs `call` on `peer`; resumes on the caller's executor; never past `deadline`.
  virtual boost::asio::awaitable<net::peer_outcome> forward(
      const peer_info& peer, net::peer_call call,
      std::chrono::steady_clock::time_point deadline) = 0;
  // Asks `peer` for its load; nullopt when it did not answer by `deadline` (or could not be
  // reached). Resumes on the caller's executor.
  virtual boost::asio::awaitable<std::optional<peer_load>> probe_load(
      const peer_info& peer, std::chrono::steady_clock::time_point deadline) = 0;
};

}  // namespace p2pfaas::scheduler
