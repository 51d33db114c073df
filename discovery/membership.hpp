#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "discovery/membership_config.hpp"
#include "discovery/message.hpp"

namespace p2pfaas::discovery {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

// Where a membership's messages go; the node wires a UDP socket (encode + authenticate) behind it.
class transport {
 public:
  virtual ~transport() = default;
  virtual void send(const std::string& address, const message& m) = 0;
};

struct member_info {
  std::string id;
  std::string address;
  member_state state = member_state::alive;
  std::uint64_t incarnation = 0;
  load_record load;
  time_point state_since;  // when this node last saw the state change
  time_point last_heard;   // last datagram from it, or news of it if none came directly
};

enum class event_kind { joined, alive, suspect, dead, left, reaped };

std::string_view to_string(event_kind kind);

struct member_event {
  event_kind kind = event_kind::joined;
  std::string id;
  std::string address;
  std::uint64_t incarnation = 0;
  time_point at;
};

struct membership_stats {
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t pings_sent = 0;
  std::uint64_t ping_reqs_sent = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t suspicions_raised = 0;  // by this node's own failed probes
  std::uint64_t refutations = 0;
  std::uint64_t push_pulls_sent = 0;
};

// What a membership draws its randomness from; injected so a test run is reproducible.
struct membership_dependencies {
  transport& out;
  std::function<std::uint64_t()> random;  // uniform 64-bit values
};

// One node's SWIM + Lifeguard membership state machine. Pure logic: time comes in as arguments,
// messages go out through the transport, nothing blocks. Not thread-safe: the owner serialises
// calls (one strand). Calls must pass a non-decreasing `now`.
class membership {
 public:
  // `id` and `address` must be non-empty and at most max_string_bytes long (throws otherwise).
  membership(membership_config config, std::string id, std::string address,
             membership_dependencies dependencies, time_point now);

  // Contacts the seeds with a push-pull, and again every join_retry_interval until one answers.
  void join(std::vector<std::string> seed_addresses, time_point now);
  // Announces `left` to every member at once and stops probing; keep ticking for a while so the
  // news is retransmitted, then destroy.
  void leave(time_point now);
  // Publishes this node's load; the version is assigned here.
  void set_load(const load_record& load);

  void receive(const std::string& from_address, const message& m, time_point now);
  // Drives probes, timeouts, gossip, push-pull and reaping. Call at next_deadline() or more often.
  void tick(time_point now);
  // The earliest time tick() has something to do.
  time_point next_deadline() const;

  // State changes since the last call, oldest first.
  std::vector<member_event> take_events();

  const std::string& id() const { return self_.id; }
  std::uint64_t incarnation() const { return self_.incarnation; }
  const load_record& load() const { return self_.load; }
  bool joined() const { return joined_; }
  bool leaving() const { return leaving_; }
  int awareness() const { return awareness_; }
  const membership_stats& stats() const { return stats_; }
  // Other members (this node excluded), by id.
  std::vector<member_info> members() const;
  std::optional<member_info> find(const std::string& id) const;
  // Members not known dead or left, this node included.
  std::size_t live_count() const;

  // Suspicion timeout after `confirmations` independent confirmations in a cluster of `n` live
  // members (exposed for tests and documentation).
  std::chrono::milliseconds suspicion_timeout(std::size_t n, int confirmations) const;

 private:
  struct suspicion {
    time_point started;
    std::string accuser;
    std::set<std::string> confirmers;
    int needed = 0;  // confirmations that bring the timeout down to its minimum
    std::size_t cluster_size = 0;
  };
  struct member {
    member_info info;
    std::uint64_t load_incarnation = 0;  // orders load records across the owner's restarts
    std::optional<suspicion> suspected;
  };
  struct probe {
    std::string target;
    std::uint64_t sequence = 0;
    time_point direct_deadline;
    time_point period_end;
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  struct forwarded_probe {
    std::string requester_address;
    std::uint64_t requester_sequence = 0;
    time_point deadline;
  };
  struct queued_update {
    member_update update;
    int transmits = 0;
    std::uint64_t order = 0;  // newer first among equal transmit counts
  };

  void apply(const member_update& u, time_point now);
  void apply_about_self(const member_update& u);
  void set_state(member& m, member_state state, const std::string& accuser, time_point now);
  void refute(std::uint64_t accused_incarnation);
  void broadcast(member_update u);
  member_update self_update() const;
  member_update update_of(const member& m, const std::string& origin) const;

  void start_probe(time_point now);
  void advance_probe(time_point now);
  void finish_probe(bool acked, time_point now);
  void expire_forwarded(time_point now);
  void expire_suspicions(time_point now);
  void gossip();
  void push_pull_with(const std::string& address);
  void reconnect();
  void reap(time_point now);

  void send(const std::string& address, message m);
  std::vector<member_update> full_state() const;
  // Up to k random alive (and, if asked, suspect) members other than `exclude`.
  std::vector<std::string> pick_members(std::size_t k, const std::string& exclude,
                                        bool include_suspect);
  std::uint64_t uniform(std::uint64_t n) { return n == 0 ? 0 : random_() % n; }
  std::chrono::milliseconds scaled(std::chrono::milliseconds d) const {
    return d * (awareness_ + 1);
  }
  void add_awareness(int delta);
  int retransmit_limit() const;
  int confirmations_needed(std::size_t n) const;
  std::chrono::milliseconds suspicion_timeout(std::size_t n, int needed, int confirmations) const;
  time_point suspicion_deadline(const suspicion& s) const;

  membership_config config_;
  transport& out_;
  std::function<std::uint64_t()> random_;

  member_info self_;
  bool joined_ = false;
  bool leaving_ = false;
  int awareness_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t next_order_ = 0;

  std::map<std::string, member> members_;
  std::vector<std::string> probe_order_;
  std::size_t probe_index_ = 0;
  std::optional<probe> probe_;
  std::map<std::uint64_t, forwarded_probe> forwarded_;
  std::map<std::string, queued_update> queue_;  // at most one pending update per member

  std::vector<std::string> seeds_;
  time_point next_probe_at_;
  time_point next_gossip_at_;
  time_point next_push_pull_at_;
  time_point next_reconnect_at_;
  time_point next_join_at_ = time_point::max();

  std::vector<member_event> events_;
  membership_stats stats_;
};

}  // namespace p2pfaas::discovery
