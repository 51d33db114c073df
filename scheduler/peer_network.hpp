#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "net/peer_link.hpp"
#include "net/peer_protocol.hpp"

namespace p2pfaas::scheduler {

// A peer as the scheduler sees it: where it is and how busy it said it was.
struct peer_info {
  std::string id;
  std::string address;  // host:port of its HTTP listener
  int running = 0;
  int queued = 0;
  int slots = 0;
  double recent_service_seconds = 0;
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
};

}  // namespace p2pfaas::scheduler
