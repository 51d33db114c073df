#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "net/cluster_key.hpp"

namespace p2pfaas::net {

// Envelope timestamps are compared across nodes, so they come from the wall clock (nodes are
// expected to run NTP), not from the steady clock the membership state machine uses.
using wall_clock = std::chrono::system_clock;
using wall_time = wall_clock::time_point;

// Fills its argument with random bytes; injected so tests are reproducible.
using random_source = std::function<void(std::span<std::uint8_t>)>;
// OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if it fails: sending with a predictable
// or repeated nonce would get our own datagrams dropped as replays.
void system_random(std::span<std::uint8_t> out);

// Wire layout, integers big-endian:
//   version     1  envelope_version
//   timestamp   8  sender's wall clock, ms since the Unix epoch (two's complement)
//   nonce      12  random, makes every datagram unique for the replay cache
//   key hint    1  key_hint() of the sending cluster key; diagnostics only, receivers try all keys
//   payload     n
//   tag        32  HMAC-SHA256 over everything above, keyed with derive_key(key, purpose label)
// The tag is not truncated: 16 more bytes per datagram are cheap next to a UDP payload budget of
// max_message_bytes, and the full tag leaves nothing to argue about.
inline constexpr std::uint8_t envelope_version = 1;
inline constexpr std::size_t envelope_nonce_bytes = 12;
inline constexpr std::size_t envelope_header_bytes = 1 + 8 + envelope_nonce_bytes + 1;
inline constexpr std::size_t envelope_tag_bytes = 32;
inline constexpr std::size_t envelope_overhead = envelope_header_bytes + envelope_tag_bytes;
// Each use of an envelope derives its own key from the cluster key, so an envelope made for one
// purpose (a gossip datagram) can never be accepted as another (a /peer upgrade).
inline constexpr std::string_view gossip_envelope_label = "p2pfaas discovery envelope v1";
inline constexpr std::string_view peer_upgrade_label = "p2pfaas peer upgrade v1";

inline constexpr std::chrono::milliseconds default_replay_window = std::chrono::seconds(30);
inline constexpr std::chrono::milliseconds max_replay_window = std::chrono::hours(24);
// A few hundred accepted datagrams per second over the default window, in about 1 MB.
inline constexpr std::size_t default_nonce_cache_size = 16384;

// Authenticates `payload` with the first key of `ring`. Throws std::invalid_argument if the ring
// is empty.
std::vector<std::uint8_t> seal(const key_ring& ring, std::span<const std::uint8_t> payload,
                               wall_time now, const random_source& random,
                               std::string_view label = gossip_envelope_label);

enum class open_error {
  none,
  too_short,
  bad_version,
  bad_tag,         // no key of the ring made this tag: forged, corrupted or a foreign cluster
  stale,           // authentic, but the timestamp is more than the window away from ours
  replayed,        // authentic and fresh, but this very datagram was already accepted
  cache_overflow,  // authentic and fresh, but too old to be told apart from a replay (see opener)
};

std::string_view to_string(open_error error);

struct open_result {
  open_error error = open_error::none;
  std::span<const std::uint8_t> payload;  // points into the datagram
  std::size_t key_index = 0;  // ring key that opened it: shows when a retired key is idle
  std::uint8_t key_hint = 0;  // as sent; unauthenticated unless ok(), so for logs only
  bool ok() const { return error == open_error::none; }
};

struct opener_stats {
  std::uint64_t accepted = 0;
  std::uint64_t too_short = 0;
  std::uint64_t bad_version = 0;
  std::uint64_t bad_tag = 0;
  std::uint64_t stale = 0;
  std::uint64_t replayed = 0;
  std::uint64_t cache_overflow = 0;
  std::uint64_t nonces_evicted = 0;  // forgotten while still inside the window (cache full)
};

// Checks datagrams sealed with any key of the ring, at most once each.
//
// Replay protection: a datagram is accepted only if its timestamp is within ±window of our clock,
// and its (timestamp, nonce) is remembered until that timestamp falls out of the window, after
// which the window alone rejects it. The cache holds at most nonce_cache_size entries. When it is
// full, the entry with the oldest timestamp T is dropped and T becomes a floor: from then on any
// datagram stamped at or before T is refused (cache_overflow), because a replay of the dropped one
// could no longer be recognised. Under overload the acceptance window thus shrinks from the old
// end; a replay is never accepted, and new datagrams (which carry current timestamps) keep flowing.
//
// Time only moves forward here: a clock stepped back is treated as standing still until it catches
// up, so nonces already forgotten can never fall back inside the window. Not thread-safe.
class opener {
 public:
  // Throws std::invalid_argument for an empty ring, a window outside (0, max_replay_window] or a
  // zero cache size.
  explicit opener(key_ring ring, std::chrono::milliseconds window = default_replay_window,
                  std::size_t nonce_cache_size = default_nonce_cache_size,
                  std::string_view label = gossip_envelope_label);

  // Never reads outside `datagram`.
  open_result open(std::span<const std::uint8_t> datagram, wall_time now);

  const opener_stats& stats() const { return stats_; }
  std::size_t cached_nonces() const { return seen_.size(); }

 private:
  struct seen_entry {
    std::int64_t timestamp_ms = 0;
    std::array<std::uint8_t, envelope_nonce_bytes> nonce{};
    auto operator<=>(const seen_entry&) const = default;
  };

  open_result reject(open_result result, open_error error);
  void expire();

  std::vector<std::vector<std::uint8_t>> keys_;  // derived envelope keys, in ring order
  std::int64_t window_ms_ = 0;
  std::size_t capacity_ = 0;
  std::int64_t now_ms_ = std::numeric_limits<std::int64_t>::min();  // latest time seen
  // Timestamps at or below it may have been forgotten early.
  std::int64_t floor_ms_ = std::numeric_limits<std::int64_t>::min();
  std::set<seen_entry> seen_;  // ordered by timestamp first, so expiry and eviction take begin()
  opener_stats stats_;
};

}  // namespace p2pfaas::net
