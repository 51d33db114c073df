#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "discovery/membership.hpp"
#include "discovery/membership_config.hpp"
#include "net/cluster_key.hpp"

namespace p2pfaas::config {
struct cluster_section;
struct config;
}  // namespace p2pfaas::config

namespace p2pfaas::discovery {

struct gossip_options {
  std::string id;
  // "host:port" peers use for this node. Empty: the bound endpoint (the bind address must then be
  // a specific one, not 0.0.0.0). Port 0: the bound port (tests bind port 0).
  std::string advertise;
  boost::asio::ip::udp::endpoint bind;  // port = the HTTP port the node bound
  std::vector<std::string> seeds;       // "host:port"
  net::key_ring keys;                   // keys[0] seals; all open. Must not be empty.
  membership_config membership;
  std::chrono::milliseconds replay_window{30000};
  std::chrono::milliseconds load_publish_interval{50};
  // After leave(), how long the service keeps answering and retransmitting before it stops by
  // itself: `left` goes to every member at once, the linger covers a lost datagram or two.
  std::chrono::milliseconds leave_linger{2000};
};

membership_config membership_config_of(const config::cluster_section& cluster);
// id, seeds, timings and replay window from the config; advertise, bind and keys are the caller's
// (they depend on what the node bound and on the key file).
gossip_options gossip_options_of(const config::config& c);

struct gossip_rejections {
  // From the envelope (net::open_error).
  std::uint64_t too_short = 0;
  std::uint64_t bad_version = 0;
  std::uint64_t bad_tag = 0;  // forged, corrupted, or another cluster's key
  std::uint64_t stale = 0;
  std::uint64_t replayed = 0;
  std::uint64_t cache_overflow = 0;
  // Authentic, but the payload does not decode (a peer of another wire version, or a bug).
  std::uint64_t decode = 0;
};

struct gossip_stats {
  std::uint64_t messages_sent = 0;      // datagrams handed to the kernel
  std::uint64_t bytes_sent = 0;         // on the wire, envelope included
  std::uint64_t messages_received = 0;  // authenticated and decoded
  std::uint64_t bytes_received = 0;     // every datagram, rejected ones included
  gossip_rejections rejected;
  std::uint64_t send_failures = 0;       // socket errors, unencodable, unresolvable address
  std::uint64_t receive_errors = 0;      // socket errors on receive
  std::uint64_t push_pulls_trimmed = 0;  // full states cut to fit one datagram
  std::uint64_t resolves_failed = 0;

  // From the membership state machine.
  std::uint64_t probes_sent = 0;  // pings, direct and on behalf of others
  std::uint64_t ping_reqs_sent = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t suspicions_raised = 0;
  std::uint64_t refutations = 0;
  std::uint64_t push_pulls_sent = 0;
  std::uint64_t loads_published = 0;  // set_load calls that reached the membership
  std::uint64_t incarnation = 0;
  int awareness = 0;  // Lifeguard local health, 0 = healthy

  // Peers (this node excluded) by state.
  std::size_t alive = 0;
  std::size_t suspect = 0;
  std::size_t dead = 0;
  std::size_t left = 0;
};

// The UDP transport of the membership: one socket, one strand, one timer. Every datagram is sealed
// with the cluster key (net/envelope.hpp); what does not open, decode, or comes twice is dropped
// and counted. Start with start(), end with leave() (graceful) and/or stop().
class gossip_service {
 public:
  // Throws std::invalid_argument for an empty id or key ring.
  gossip_service(boost::asio::io_context& io, gossip_options options);
  ~gossip_service();  // stop()
  gossip_service(const gossip_service&) = delete;
  gossip_service& operator=(const gossip_service&) = delete;

  // Binds (throws std::system_error), joins the seeds and starts ticking. Returns the bound
  // endpoint. Once only.
  boost::asio::ip::udp::endpoint start();
  // Any thread, as often as calls start and end: published at most once per
  // load_publish_interval, latest value wins, and not at all when nothing changed.
  void set_load(const load_record& load);
  // Any thread, after start(). Contacts these seeds now, and again every join retry interval
  // until one answers: how a running node is pointed at a cluster (P2PFaaS's init_servers).
  // Does nothing once the node is leaving or stopped.
  void join(std::vector<std::string> seeds);
  // Any thread. Announces `left` to every member, keeps answering for leave_linger, then stops.
  void leave();
  // Any thread, idempotent. Closes the socket and cancels the timer; once it returns, no handler
  // of this service does anything and no event callback runs.
  void stop();
  bool running() const;

  struct view {
    std::string self;
    std::vector<member_info> members;  // by id, this node included (with its own load)
    std::uint64_t version = 0;         // grows with every republication
  };
  // Any thread; cheap (an immutable snapshot, republished when membership or load changes;
  // last_heard alone is refreshed at most every 250 ms). Never null: before start() it holds
  // this node alone.
  std::shared_ptr<const view> snapshot() const;
  gossip_stats stats() const;  // any thread

  // Set before start(). Runs on the service's strand: must not block. May call stop(), leave(),
  // set_load(), snapshot() and stats().
  void on_event(std::function<void(const member_event&)> f);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace p2pfaas::discovery
