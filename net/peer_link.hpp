#pragma once

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/cluster_key.hpp"
#include "net/peer_protocol.hpp"

namespace p2pfaas::net {

// Settings of the /peer WebSocket links, for both ends (peer_client and peer_server).
struct link_options {
  std::size_t max_in_flight = 1024;  // per link: more calls wait for room until their deadline
  std::chrono::milliseconds connect_timeout{1000};  // TCP connect + upgrade (server: the upgrade)
  // A link pings every 1.5 intervals and is declared dead when nothing (no pong, no frame) came
  // for 3 intervals, or 1.5 right after a ping.
  std::chrono::milliseconds ping_interval{1000};
  std::size_t max_frame_bytes = 11 << 20;          // largest WebSocket message read or written
  std::chrono::milliseconds replay_window{30000};  // for the upgrade credentials
  // Each client link on its own strand. Off only when a single thread runs the io_context.
  bool strands = true;
};

enum class peer_error {
  none,
  connect_failed,  // no link: refused, unreachable, timed out, wrong node, or in backoff
  unauthorized,    // the upgrade failed authentication, in either direction
  link_lost,       // the link died or was dropped while the call was pending
  timed_out,       // the call's deadline passed first
  shut_down,       // close() was called
  protocol,        // a frame that could not be encoded or decoded
};
inline constexpr std::size_t peer_error_count = 7;

std::string_view to_string(peer_error error);

struct peer_outcome {
  peer_error error = peer_error::none;
  std::string message;  // for humans, names the peer: "link to node-b lost: connection reset"
  peer_reply reply;     // when error == none
  bool ok() const { return error == peer_error::none; }
};

struct load_outcome {
  peer_error error = peer_error::none;
  std::string message;  // for humans, names the peer
  peer_load load;       // when error == none
  bool ok() const { return error == peer_error::none; }
};

struct peer_client_stats {
  // Calls only: probes have counters of their own, so these stay the forwarded calls.
  std::uint64_t calls = 0;    // call() invocations
  std::uint64_t replies = 0;  // calls the peer answered (whatever the status)
  std::array<std::uint64_t, peer_error_count> failed{};  // indexed by peer_error
  std::uint64_t late_replies = 0;  // answers to calls or probes that had already timed out
  std::uint64_t links_opened = 0;  // successful upgrades
  std::uint64_t reconnects = 0;    // of those, on a link that had been open before
  std::uint64_t connect_failures = 0;
  std::size_t open_links = 0;
  std::uint64_t probes = 0;           // probe() invocations
  std::uint64_t probes_answered = 0;  // load reports received for them
  // Indexed by peer_error.
  std::array<std::uint64_t, peer_error_count> probes_failed{};

  std::uint64_t failed_with(peer_error e) const { return failed[static_cast<std::size_t>(e)]; }
  std::uint64_t probes_failed_with(peer_error e) const {
    return probes_failed[static_cast<std::size_t>(e)];
  }
};

// The calling side of the peer links: one WebSocket link per peer, opened on the first call,
// kept, and reopened on demand after a failure, with exponential backoff (100 ms doubling to 5 s;
// while a link backs off, calls to it fail at once with connect_failed). Each link runs on its
// own strand and carries any number of concurrent calls and load probes, matched to their answers
// by request id. Thread-safe.
class peer_client {
 public:
  // Throws std::invalid_argument for an empty key ring or an unusable option.
  peer_client(boost::asio::io_context& io, key_ring keys, std::string self_id,
              link_options options);
  ~peer_client();  // close()
  peer_client(const peer_client&) = delete;
  peer_client& operator=(const peer_client&) = delete;

  // Sends `call` to `peer_id` at `address` ("host:port" of its HTTP listener: IPv4, [IPv6] or a
  // name) and resumes the caller on its own executor. Never hangs past `deadline` (timed_out
  // then). A link that dies fails every call pending on it at once (link_lost). A new address
  // for a known peer is used from its next connection on, and ends a backoff at once.
  boost::asio::awaitable<peer_outcome> call(std::string peer_id, std::string address,
                                            peer_call call,
                                            std::chrono::steady_clock::time_point deadline);
  // Asks `peer_id` for its load over the same link, as call() does: the same errors, deadline and
  // executor. A probe takes no room on the link (the peer answers it at once, without running
  // anything), and one that times out sends no cancel since there is nothing to stop.
  boost::asio::awaitable<load_outcome> probe(std::string peer_id, std::string address,
                                             std::chrono::steady_clock::time_point deadline);

  // The peer is dead or left: close its link and fail its pending calls and probes at once
  // (link_lost). A later call to it opens a new link.
  void drop(const std::string& peer_id);
  // Shutdown: close every link; pending and later calls and probes fail with shut_down.
  // Idempotent.
  void close();

  std::size_t link_count() const;  // open links
  peer_client_stats stats() const;

  // Defined in peer_link.cpp; public only so that its helpers can name them.
  struct shared;
  class link;

 private:
  std::shared_ptr<link> find_or_add(const std::string& peer_id);

  boost::asio::io_context& io_;
  std::shared_ptr<shared> shared_;  // what links need, kept alive by them
  mutable std::mutex mutex_;        // guards links_
  std::unordered_map<std::string, std::shared_ptr<link>> links_;
};

}  // namespace p2pfaas::net
